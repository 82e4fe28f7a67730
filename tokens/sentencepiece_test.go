package tokens

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSentencePiece reads stories260k's tokenizer.model (512 pieces, the
// ids of its tokenizer.json), appends pieces and reads them back, and
// refuses files that are not a ModelProto.
func TestSentencePiece(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "stories260k", "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	old, err := spPieces(b)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := Load(filepath.Join("..", "testdata", "stories260k"))
	if err != nil {
		t.Fatal(err)
	}
	if len(old) != 512 {
		t.Fatalf("%d pieces, want 512", len(old))
	}
	for id, p := range old {
		if got, ok := enc.TokenID(p.Piece); ok && got != id && p.Type == spNormal {
			t.Fatalf("piece %d %q is tokenizer.json's token %d", id, p.Piece, got)
		}
	}
	toks := []NewToken{{ID: 512, Form: "▁dr", Mode: ModeVocab}, {ID: 513, Form: "▁dragon", Mode: ModeVocab},
		{ID: 514, Form: "<|im start|>", Mode: ModeAdded}}
	out, ok, why, err := extendSentencePiece(b, toks)
	if err != nil || !ok {
		t.Fatalf("extendSentencePiece: %v %v %s", ok, err, why)
	}
	got, err := spPieces(out)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[:512], old) || len(got) != 515 {
		t.Fatalf("%d pieces after, the old ones changed: %v", len(got), !slices.Equal(got[:512], old))
	}
	low := slices.MinFunc(old, func(a, b spPiece) int { return int(a.Score - b.Score) }).Score
	want := []spPiece{{"▁dr", low - 1, spNormal}, {"▁dragon", low - 2, spNormal}, {"<|im▁start|>", 0, spUserDefined}}
	if !slices.Equal(got[512:], want) {
		t.Errorf("new pieces %v, want %v", got[512:], want)
	}
	if _, ok, why, _ := extendSentencePiece(b, toks[1:]); ok || why == "" {
		t.Errorf("pieces that are not the ids before the new ones: ok %v, %q", ok, why)
	}
	for name, bad := range map[string][]byte{
		"truncated":  b[:len(b)-3],
		"group":      {0x0b},
		"field 0":    {0x00, 0x01},
		"long field": {0x0a, 0xff, 0x01},
		"bad varint": {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"piece int":  {0x08, 0x01},
	} {
		if _, err := spPieces(bad); !errors.Is(err, errSentencePiece) {
			t.Errorf("%s: %v, want errSentencePiece", name, err)
		}
	}
}

// FuzzSentencePiece reads arbitrary bytes as a SentencePiece model: an
// error or pieces, never a panic; pieces appended to an accepted file read
// back after the old ones.
func FuzzSentencePiece(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "stories260k", "tokenizer.model"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{0x0a, 0x03, 0x0a, 0x01, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		old, err := spPieces(b)
		if err != nil {
			return
		}
		add := []spPiece{{"▁x", -1, spNormal}, {"<y>", 0, spUserDefined}}
		got, err := spPieces(spAppend(b, add))
		if err != nil || len(got) != len(old)+2 || !slices.Equal(got[len(old):], add) {
			t.Fatalf("appended pieces read back as %v (%v)", got[len(old):], err)
		}
	})
}
