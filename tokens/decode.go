package tokens

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoder is one of tokenizer.json's decoders: it rewrites the token
// strings of a decoding (decode_chain); the results are concatenated.
type decoder interface {
	decode(ts []string) []string
}

type decSeq []decoder

func (d decSeq) decode(ts []string) []string {
	for _, x := range d {
		ts = x.decode(ts)
	}
	return ts
}

// byteLevelDec maps byte-level tokens back to bytes; a token with a
// character outside the byte-level alphabet is kept as its UTF-8. The bytes
// of all tokens are decoded together, invalid UTF-8 as U+FFFD.
type byteLevelDec struct{}

func (byteLevelDec) decode(ts []string) []string {
	var b []byte
	for _, t := range ts {
		if bs, ok := ByteLevelBytes(t); ok {
			b = append(b, bs...)
		} else {
			b = append(b, t...)
		}
	}
	return []string{lossy(b)}
}

// lossy decodes b as UTF-8, each invalid sequence as U+FFFD (as Rust's
// String::from_utf8_lossy).
func lossy(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, w := utf8.DecodeRune(b)
		if r == utf8.RuneError && w <= 1 {
			// from_utf8_lossy replaces a maximal invalid prefix of a
			// sequence with one U+FFFD.
			n := invalidPrefix(b)
			sb.WriteRune(utf8.RuneError)
			b = b[n:]
			continue
		}
		sb.WriteRune(r)
		b = b[w:]
	}
	return sb.String()
}

// invalidPrefix is the length of the invalid sequence at the start of b that
// from_utf8_lossy replaces with one U+FFFD: a lead byte and the continuation
// bytes that could follow it, at least 1.
func invalidPrefix(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		x := b[n]
		if k > 0 {
			lo, hi = 0x80, 0xBF
		}
		if x < lo || x > hi {
			break
		}
		n++
	}
	return n
}

// replaceDec is Replace on every token.
type replaceDec struct{ r replaceNorm }

func (d replaceDec) decode(ts []string) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = d.r.normalize(t)
	}
	return out
}

// byteFallbackDec turns runs of <0xNN> tokens into the text of their bytes
// (U+FFFD per byte when they are not valid UTF-8).
type byteFallbackDec struct{}

func byteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(t[3:5], 16, 8)
	return byte(v), err == nil
}

func (byteFallbackDec) decode(ts []string) []string {
	var out []string
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range ts {
		if b, ok := byteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// fuseDec joins all tokens into one.
type fuseDec struct{}

func (fuseDec) decode(ts []string) []string { return []string{strings.Join(ts, "")} }

// stripDec removes up to start leading and stop trailing content characters
// from every token.
type stripDec struct {
	content     rune
	start, stop int
}

func (d stripDec) decode(ts []string) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		for k := 0; k < d.start && strings.HasPrefix(t, string(d.content)); k++ {
			t = t[utf8.RuneLen(d.content):]
		}
		for k := 0; k < d.stop && strings.HasSuffix(t, string(d.content)); k++ {
			t = t[:len(t)-utf8.RuneLen(d.content)]
		}
		out[i] = t
	}
	return out
}

// wordPieceDec joins continuing pieces to their word and puts a space before
// the others; cleanup undoes the spaces BERT puts around punctuation.
type wordPieceDec struct {
	prefix  string
	cleanup bool
}

// cleanup undoes the spaces BERT's tokenization puts around punctuation and
// contractions (the replacements in order, as Hugging Face's cleanup).
func cleanup(s string) string {
	for _, p := range [][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
		{" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
		s = strings.ReplaceAll(s, p[0], p[1])
	}
	return s
}

func (d wordPieceDec) decode(ts []string) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		if i > 0 {
			if strings.HasPrefix(t, d.prefix) {
				t = t[len(d.prefix):]
			} else {
				t = " " + t
			}
		}
		if d.cleanup {
			t = cleanup(t)
		}
		out[i] = t
	}
	return out
}

// metaspaceDec turns the replacement character back into spaces, dropping
// the one that starts the first token unless the prepend scheme is "never".
type metaspaceDec struct {
	repl        string
	dropLeading bool
}

func (d metaspaceDec) decode(ts []string) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		t = strings.ReplaceAll(t, d.repl, " ")
		if i == 0 && d.dropLeading {
			t = strings.TrimPrefix(t, " ")
		}
		out[i] = t
	}
	return out
}

// parseDecoder reads a tokenizer.json decoder (nil for null).
func parseDecoder(raw json.RawMessage) (decoder, error) {
	if kind(raw) == "null" || len(raw) == 0 {
		return nil, nil
	}
	var h struct {
		Type          string            `json:"type"`
		Decoders      []json.RawMessage `json:"decoders"`
		Pattern       pattern           `json:"pattern"`
		Content       string            `json:"content"`
		Start         int               `json:"start"`
		Stop          int               `json:"stop"`
		Prefix        *string           `json:"prefix"`
		Cleanup       *bool             `json:"cleanup"`
		Replacement   *string           `json:"replacement"`
		PrependScheme *string           `json:"prepend_scheme"`
		AddPrefix     *bool             `json:"add_prefix_space"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("decoder: %v", err)
	}
	switch h.Type {
	case "Sequence":
		seq, err := parseSequence(h.Decoders, parseDecoder)
		if err != nil {
			return nil, err
		}
		return decSeq(seq), nil
	case "ByteLevel":
		return byteLevelDec{}, nil
	case "Replace":
		r := replaceNorm{content: h.Content}
		switch {
		case h.Pattern.String != nil:
			r.lit = *h.Pattern.String
		case h.Pattern.Regex != nil:
			re, err := compileRegex(*h.Pattern.Regex)
			if err != nil {
				return nil, fmt.Errorf("decoder Replace: %v", err)
			}
			r.re = re
		}
		return replaceDec{r}, nil
	case "ByteFallback":
		return byteFallbackDec{}, nil
	case "Fuse":
		return fuseDec{}, nil
	case "Strip":
		c, _ := utf8.DecodeRuneInString(h.Content)
		return stripDec{c, h.Start, h.Stop}, nil
	case "WordPiece":
		d := wordPieceDec{prefix: "##", cleanup: true}
		if h.Prefix != nil {
			d.prefix = *h.Prefix
		}
		if h.Cleanup != nil {
			d.cleanup = *h.Cleanup
		}
		return d, nil
	case "Metaspace":
		d := metaspaceDec{repl: "▁", dropLeading: true}
		if h.Replacement != nil {
			d.repl = *h.Replacement
		}
		if (h.PrependScheme != nil && *h.PrependScheme == "never") || (h.PrependScheme == nil && h.AddPrefix != nil && !*h.AddPrefix) {
			d.dropLeading = false
		}
		return d, nil
	}
	return nil, fmt.Errorf("decoder %q is not supported", h.Type)
}
