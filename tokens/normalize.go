package tokens

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalizer is one of tokenizer.json's normalizers: it rewrites a segment
// of text before pre-tokenization.
type normalizer interface {
	normalize(s string) string
}

type normSeq []normalizer

func (n normSeq) normalize(s string) string {
	for _, m := range n {
		s = m.normalize(s)
	}
	return s
}

// replaceNorm is Replace: every match of a literal string or a regex becomes
// content.
type replaceNorm struct {
	lit     string
	re      *regexp.Regexp
	content string
}

func (r replaceNorm) normalize(s string) string {
	if r.re != nil {
		return r.re.ReplaceAllLiteralString(s, r.content)
	}
	if r.lit == "" {
		return s
	}
	return strings.ReplaceAll(s, r.lit, r.content)
}

// prependNorm is Prepend: a non-empty segment gets a prefix.
type prependNorm string

func (p prependNorm) normalize(s string) string {
	if s == "" {
		return s
	}
	return string(p) + s
}

type formNorm struct{ f norm.Form }

func (f formNorm) normalize(s string) string { return hfForm(f.f, s) }

// isHFBarrier reports whether Hugging Face's normalization tables (an
// older Unicode version than Go's) do not know r as a combining mark or a
// decomposable character: there it is a starter of combining class 0 that
// nothing crosses or composes with.
func isHFBarrier(r rune) bool {
	return r >= 0x300 && (unicode.Is(hfMarkNot, r) || r == 0x11938)
}

// hfForm normalizes s to form f as Hugging Face's tokenizers do: Go's
// normalization, with the characters Hugging Face's tables do not know kept
// in place as barriers (isHFBarrier).
func hfForm(f norm.Form, s string) string {
	if f.IsNormalString(s) {
		return s
	}
	if strings.IndexFunc(s, isHFBarrier) < 0 {
		return f.String(s)
	}
	var sb strings.Builder
	for len(s) > 0 {
		i := strings.IndexFunc(s, isHFBarrier)
		if i < 0 {
			sb.WriteString(f.String(s))
			break
		}
		sb.WriteString(f.String(s[:i]))
		_, w := utf8.DecodeRuneInString(s[i:])
		sb.WriteString(s[i : i+w])
		s = s[i+w:]
	}
	return sb.String()
}

type lowercaseNorm struct{}

func (lowercaseNorm) normalize(s string) string { return lower(s) }

// lower lowercases as Rust's char::to_lowercase does: U+0130 (İ) becomes
// "i̇", and the letters of Unicode versions newer than Go's map as
// Hugging Face's tokenizers map them (hfunicode.go).
func lower(s string) string {
	special := false
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			special = true
			break
		}
	}
	if !special {
		return strings.ToLower(s)
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for _, r := range s {
		if r == 'İ' {
			sb.WriteString("i\u0307")
		} else if l, ok := hfLower[r]; ok {
			sb.WriteString(l)
		} else {
			sb.WriteRune(unicode.ToLower(r))
		}
	}
	return sb.String()
}

type stripNorm struct{ left, right bool }

func (st stripNorm) normalize(s string) string {
	if st.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if st.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s
}

// stripAccentsNorm is StripAccents: every combining mark (Mn, Mc, Me, as
// Hugging Face's tables have them) removed.
type stripAccentsNorm struct{}

func (stripAccentsNorm) normalize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0x300 && (unicode.Is(unicode.M, r) || unicode.Is(hfCombiningExtra, r)) && !unicode.Is(hfCombiningNot, r) {
			return -1
		}
		return r
	}, s)
}

// dropMarks removes the non-spacing marks (Mn) of s (as the tables of
// Hugging Face's tokenizers have them: hfunicode.go).
func dropMarks(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0x300 && (unicode.Is(unicode.Mn, r) || unicode.Is(hfMarkExtra, r)) && !unicode.Is(hfMarkNot, r) {
			return -1
		}
		return r
	}, s)
}

// bertNorm is BertNormalizer.
type bertNorm struct {
	cleanText, chinese, stripAccents, lowercase bool
}

// isOther reports whether r is a control, format, private-use or surrogate
// code point (Cc, Cf, Co, Cs: what BertNormalizer's clean_text removes;
// unassigned code points are kept).
func isOther(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) && !unicode.Is(hfOtherNot, r)
}

// isChineseChar reports whether r is in one of the CJK blocks BERT pads
// with spaces.
func isChineseChar(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) || (r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

func (b bertNorm) normalize(s string) string {
	if b.cleanText {
		s = strings.Map(func(r rune) rune {
			switch {
			case r == '\t' || r == '\n' || r == '\r':
				return ' '
			case r == 0 || r == 0xFFFD || isOther(r):
				return -1
			case unicode.IsSpace(r):
				return ' '
			}
			return r
		}, s)
	}
	if b.chinese {
		var sb strings.Builder
		for _, r := range s {
			if isChineseChar(r) {
				sb.WriteByte(' ')
				sb.WriteRune(r)
				sb.WriteByte(' ')
			} else {
				sb.WriteRune(r)
			}
		}
		s = sb.String()
	}
	if b.stripAccents {
		s = dropMarks(hfForm(norm.NFD, s))
	}
	if b.lowercase {
		s = lower(s)
	}
	return s
}

// pattern is tokenizer.json's {"String": ...} or {"Regex": ...}.
type pattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

// compileRegex compiles a tokenizer.json regex with Go's regexp when its
// meaning is the same as in Oniguruma (the Rust tokenizers' engine): the
// character classes \s, \w, \d and \b are ASCII in Go and Unicode there, and
// Go has no lookaround or backreferences, so a pattern using them is refused.
func compileRegex(p string) (*regexp.Regexp, error) {
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			switch p[i+1] {
			case 's', 'S', 'w', 'W', 'd', 'D', 'b', 'B':
				return nil, fmt.Errorf("regex %q: \\%c means something else in Go's regexp than in Hugging Face's tokenizers", p, p[i+1])
			}
			i++
		}
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %v", p, err)
	}
	return re, nil
}

// parseSequence parses the members of a tokenizer.json Sequence component
// (normalizers, pre-tokenizers, post-processors, decoders) with parse,
// leaving out the null ones.
func parseSequence[T any](raws []json.RawMessage, parse func(json.RawMessage) (T, error)) ([]T, error) {
	var seq []T
	for _, r := range raws {
		c, err := parse(r)
		if err != nil {
			return nil, err
		}
		if any(c) != nil {
			seq = append(seq, c)
		}
	}
	return seq, nil
}

// parseNormalizer reads a tokenizer.json normalizer (nil for null).
func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	if kind(raw) == "null" || len(raw) == 0 {
		return nil, nil
	}
	var h struct {
		Type         string            `json:"type"`
		Normalizers  []json.RawMessage `json:"normalizers"`
		Pattern      pattern           `json:"pattern"`
		Content      string            `json:"content"`
		Prepend      string            `json:"prepend"`
		CleanText    *bool             `json:"clean_text"`
		Chinese      *bool             `json:"handle_chinese_chars"`
		StripAccents *bool             `json:"strip_accents"`
		Lowercase    *bool             `json:"lowercase"`
		StripLeft    *bool             `json:"strip_left"`
		StripRight   *bool             `json:"strip_right"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("normalizer: %v", err)
	}
	opt := func(p *bool, def bool) bool {
		if p == nil {
			return def
		}
		return *p
	}
	switch h.Type {
	case "Sequence":
		seq, err := parseSequence(h.Normalizers, parseNormalizer)
		if err != nil {
			return nil, err
		}
		return normSeq(seq), nil
	case "Replace":
		r := replaceNorm{content: h.Content}
		switch {
		case h.Pattern.String != nil:
			r.lit = *h.Pattern.String
		case h.Pattern.Regex != nil:
			re, err := compileRegex(*h.Pattern.Regex)
			if err != nil {
				return nil, fmt.Errorf("normalizer Replace: %v", err)
			}
			r.re = re
		default:
			return nil, fmt.Errorf("normalizer Replace: no String or Regex pattern")
		}
		return r, nil
	case "Prepend":
		return prependNorm(h.Prepend), nil
	case "NFC":
		return formNorm{norm.NFC}, nil
	case "NFD":
		return formNorm{norm.NFD}, nil
	case "NFKC":
		return formNorm{norm.NFKC}, nil
	case "NFKD":
		return formNorm{norm.NFKD}, nil
	case "Lowercase":
		return lowercaseNorm{}, nil
	case "Strip":
		return stripNorm{opt(h.StripLeft, true), opt(h.StripRight, true)}, nil
	case "StripAccents":
		return stripAccentsNorm{}, nil
	case "BertNormalizer":
		lc := opt(h.Lowercase, true)
		return bertNorm{opt(h.CleanText, true), opt(h.Chinese, true), opt(h.StripAccents, lc), lc}, nil
	}
	return nil, fmt.Errorf("normalizer %q is not supported", h.Type)
}
