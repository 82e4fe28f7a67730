package tokens

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// A SentencePiece model file (tokenizer.model, spiece.model) is a protobuf
// ModelProto (github.com/google/sentencepiece, src/sentencepiece_model.proto)
// whose field 1 is the repeated SentencePiece {string piece = 1; float score
// = 2; Type type = 3}: the vocabulary, id by id. Protobuf lets the entries of
// a repeated field appear anywhere in a message, in order, so pieces appended
// at the end of the file take the ids after the last one, and the rest of
// the model (trainer and normalizer specs) is kept byte for byte.

// Piece types of SentencePiece (sentencepiece_model.proto).
const (
	spNormal      = 1
	spUserDefined = 4
)

// spPiece is one vocabulary entry of a SentencePiece model.
type spPiece struct {
	Piece string
	Score float32
	Type  int // spNormal when the file omits it
}

// errSentencePiece is the error of a file that is not a ModelProto.
var errSentencePiece = errors.New("not a SentencePiece model")

// spVarint reads a varint at b[i:].
func spVarint(b []byte, i int) (uint64, int, error) {
	v, n := binary.Uvarint(b[i:])
	if n <= 0 {
		return 0, 0, fmt.Errorf("%w: a bad varint at byte %d", errSentencePiece, i)
	}
	return v, i + n, nil
}

// spFields calls f with the number, wire type and value bytes (the
// varint's bytes for wire type 0) of every field of the message b.
func spFields(b []byte, f func(num int, wire int, v []byte) error) error {
	for i := 0; i < len(b); {
		key, j, err := spVarint(b, i)
		if err != nil {
			return err
		}
		num, wire := int(key>>3), int(key&7)
		var end int
		switch wire {
		case 0:
			if _, end, err = spVarint(b, j); err != nil {
				return err
			}
		case 1:
			end = j + 8
		case 2:
			n, k, err := spVarint(b, j)
			if err != nil {
				return err
			}
			if n > uint64(len(b)-k) {
				return fmt.Errorf("%w: field %d at byte %d runs past the end", errSentencePiece, num, i)
			}
			j, end = k, k+int(n)
		case 5:
			end = j + 4
		default:
			return fmt.Errorf("%w: wire type %d at byte %d", errSentencePiece, wire, i)
		}
		if num == 0 || end > len(b) {
			return fmt.Errorf("%w: field %d at byte %d", errSentencePiece, num, i)
		}
		if err := f(num, wire, b[j:end]); err != nil {
			return err
		}
		i = end
	}
	return nil
}

// spPieces reads the vocabulary of a SentencePiece model file.
func spPieces(b []byte) ([]spPiece, error) {
	var out []spPiece
	err := spFields(b, func(num, wire int, v []byte) error {
		if num != 1 {
			return nil
		}
		if wire != 2 {
			return fmt.Errorf("%w: piece %d is not a message", errSentencePiece, len(out))
		}
		p := spPiece{Type: spNormal}
		err := spFields(v, func(num, wire int, v []byte) error {
			switch {
			case num == 1 && wire == 2:
				p.Piece = string(v)
			case num == 2 && wire == 5:
				p.Score = math.Float32frombits(binary.LittleEndian.Uint32(v))
			case num == 3 && wire == 0:
				t, _, err := spVarint(v, 0)
				p.Type = int(t)
				return err
			}
			return nil
		})
		out = append(out, p)
		return err
	})
	return out, err
}

// spAppend returns b with the pieces appended (field 1 of ModelProto).
func spAppend(b []byte, pieces []spPiece) []byte {
	out := append([]byte(nil), b...)
	for _, p := range pieces {
		var m []byte
		m = binary.AppendUvarint(m, 1<<3|2)
		m = binary.AppendUvarint(m, uint64(len(p.Piece)))
		m = append(m, p.Piece...)
		m = binary.AppendUvarint(m, 2<<3|5)
		m = binary.LittleEndian.AppendUint32(m, math.Float32bits(p.Score))
		m = binary.AppendUvarint(m, 3<<3) // field 3, wire type 0 (varint)
		m = binary.AppendUvarint(m, uint64(p.Type))
		out = binary.AppendUvarint(out, 1<<3|2)
		out = binary.AppendUvarint(out, uint64(len(m)))
		out = append(out, m...)
	}
	return out
}

// extendSentencePiece appends the new tokens to a SentencePiece model file
// whose pieces are the ids before them: vocabulary tokens as NORMAL pieces
// scored below every piece it has (a BPE model merges by score, so they
// merge after the others, as their merges come after the others in
// tokenizer.json), added tokens as USER_DEFINED pieces (matched whole in
// the text, as Hugging Face matches added tokens). ok is false, with why,
// when the file's pieces are not the ids before the new tokens.
func extendSentencePiece(b []byte, toks []NewToken) (out []byte, ok bool, why string, err error) {
	old, err := spPieces(b)
	if err != nil {
		return nil, false, "", err
	}
	if len(toks) == 0 {
		return b, true, "", nil
	}
	if len(old) != toks[0].ID {
		return nil, false, fmt.Sprintf("it has %d pieces, not the %d ids before the new ones", len(old), toks[0].ID), nil
	}
	low := float32(0)
	for _, p := range old {
		low = min(low, p.Score)
	}
	var add []spPiece
	for k, t := range toks {
		if t.ID != len(old)+k {
			return nil, false, fmt.Sprintf("the new ids are not consecutive after its %d pieces", len(old)), nil
		}
		// SentencePiece matches user-defined pieces in the normalized
		// text, whose spaces are ▁.
		p := spPiece{Piece: strings.ReplaceAll(t.Form, " ", "▁"), Type: spUserDefined}
		if t.Mode == ModeVocab {
			low--
			p.Score, p.Type = low, spNormal
		}
		add = append(add, p)
	}
	return spAppend(b, add), true, "", nil
}
