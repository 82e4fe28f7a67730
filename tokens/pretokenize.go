package tokens

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// piece is a segment of text on its way through the pre-tokenizers: s, and
// whether it starts the original text (Metaspace's prepend_scheme "first").
type piece struct {
	s     string
	first bool
}

// preTokenizer is one of tokenizer.json's pre-tokenizers: it splits pieces
// into smaller ones (the "words" the model tokenizes one by one).
type preTokenizer interface {
	split(ps []piece) []piece
}

type preSeq []preTokenizer

func (p preSeq) split(ps []piece) []piece {
	for _, t := range p {
		ps = t.split(ps)
	}
	return ps
}

// match is a span of a piece and whether the pattern matched it.
type match struct {
	start, end int
	hit        bool
}

// matcher finds matches of a pattern in s.
type matcher interface {
	matches(s string) []match
}

// scanFunc is a hand-written regex: it returns the end of the match at i, or
// -1 when the pattern does not match at i.
type scanFunc func(s string, i int) int

// matches finds the successive leftmost matches, as a regex's find_iter,
// with the gaps between them.
func (f scanFunc) matches(s string) []match {
	var out []match
	prev := 0
	for i := 0; i < len(s); {
		e := f(s, i)
		if e <= i {
			_, w := utf8.DecodeRuneInString(s[i:])
			i += w
			continue
		}
		if prev < i {
			out = append(out, match{prev, i, false})
		}
		out = append(out, match{i, e, true})
		prev, i = e, e
	}
	if prev < len(s) {
		out = append(out, match{prev, len(s), false})
	}
	return out
}

// reMatcher is a Go regexp (see compileRegex).
type reMatcher struct{ re *regexp.Regexp }

func (m reMatcher) matches(s string) []match {
	var out []match
	prev := 0
	for _, loc := range m.re.FindAllStringIndex(s, -1) {
		if loc[0] == loc[1] {
			continue
		}
		if prev < loc[0] {
			out = append(out, match{prev, loc[0], false})
		}
		out = append(out, match{loc[0], loc[1], true})
		prev = loc[1]
	}
	if prev < len(s) {
		out = append(out, match{prev, len(s), false})
	}
	return out
}

// litMatcher matches a literal string.
type litMatcher string

func (m litMatcher) matches(s string) []match {
	var out []match
	prev := 0
	if m == "" {
		return []match{{0, len(s), false}}
	}
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], string(m))
		if j < 0 {
			break
		}
		j += i
		if prev < j {
			out = append(out, match{prev, j, false})
		}
		out = append(out, match{j, j + len(m), true})
		prev, i = j+len(m), j+len(m)
	}
	if prev < len(s) {
		out = append(out, match{prev, len(s), false})
	}
	return out
}

// charMatcher matches every rune for which f holds, one match per rune.
type charMatcher func(rune) bool

func (f charMatcher) matches(s string) []match {
	var out []match
	prev := 0
	for i, r := range s {
		if f(r) {
			w := runeLen(r)
			if prev < i {
				out = append(out, match{prev, i, false})
			}
			out = append(out, match{i, i + w, true})
			prev = i + w
		}
	}
	if prev < len(s) {
		out = append(out, match{prev, len(s), false})
	}
	return out
}

// behavior is a SplitDelimiterBehavior.
type behavior int

const (
	removed behavior = iota
	isolated
	mergedWithPrevious
	mergedWithNext
	contiguous
)

func parseBehavior(s string) (behavior, error) {
	switch s {
	case "Removed":
		return removed, nil
	case "Isolated":
		return isolated, nil
	case "MergedWithPrevious":
		return mergedWithPrevious, nil
	case "MergedWithNext":
		return mergedWithNext, nil
	case "Contiguous":
		return contiguous, nil
	}
	return 0, fmt.Errorf("split behavior %q is not supported", s)
}

// splitPiece splits p at the matches of m by behaviour b (invert swaps
// matches and gaps), dropping empty results, and appends them to out.
func splitPiece(out []piece, p piece, m matcher, b behavior, invert bool) []piece {
	ms := m.matches(p.s)
	if invert {
		for i := range ms {
			ms[i].hit = !ms[i].hit
		}
	}
	type part struct {
		start, end int
		remove     bool
	}
	var parts []part
	switch b {
	case isolated:
		for _, x := range ms {
			parts = append(parts, part{x.start, x.end, false})
		}
	case removed:
		for _, x := range ms {
			parts = append(parts, part{x.start, x.end, x.hit})
		}
	case contiguous:
		prev := false
		for i, x := range ms {
			if i > 0 && x.hit == prev {
				parts[len(parts)-1].end = x.end
			} else {
				parts = append(parts, part{x.start, x.end, false})
			}
			prev = x.hit
		}
	case mergedWithPrevious:
		prev := false
		for _, x := range ms {
			if x.hit && !prev && len(parts) > 0 {
				parts[len(parts)-1].end = x.end
			} else {
				parts = append(parts, part{x.start, x.end, false})
			}
			prev = x.hit
		}
	case mergedWithNext:
		prev := false
		for i := len(ms) - 1; i >= 0; i-- {
			x := ms[i]
			if x.hit && !prev && len(parts) > 0 {
				parts[len(parts)-1].start = x.start
			} else {
				parts = append(parts, part{x.start, x.end, false})
			}
			prev = x.hit
		}
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
	}
	for _, x := range parts {
		if !x.remove && x.end > x.start {
			out = append(out, piece{p.s[x.start:x.end], p.first && x.start == 0})
		}
	}
	return out
}

// splitPre is Split (and the pre-tokenizers built on splitting).
type splitPre struct {
	m      matcher
	b      behavior
	invert bool
}

func (sp splitPre) split(ps []piece) []piece {
	out := make([]piece, 0, len(ps))
	for _, p := range ps {
		out = splitPiece(out, p, sp.m, sp.b, sp.invert)
	}
	return out
}

// byteLevelPre is ByteLevel: an optional prefix space, the GPT-2 regex, and
// the bytes of every piece mapped to the byte-level alphabet.
type byteLevelPre struct {
	addPrefixSpace, useRegex bool
}

func (bl byteLevelPre) split(ps []piece) []piece {
	out := make([]piece, 0, 2*len(ps))
	for _, p := range ps {
		if bl.addPrefixSpace && !strings.HasPrefix(p.s, " ") {
			p.s = " " + p.s
		}
		start := len(out)
		if bl.useRegex {
			out = splitPiece(out, p, scanFunc(scanGPT2), isolated, false)
		} else if p.s != "" {
			out = append(out, p)
		}
		for i := start; i < len(out); i++ {
			out[i].s = ByteLevelForm(out[i].s)
		}
	}
	return out
}

// metaspacePre is Metaspace: spaces become the replacement character, which
// is prepended by the prepend scheme, and (split) words start at it.
type metaspacePre struct {
	repl       string
	prepend    string // "always", "first" or "never"
	splitWords bool
}

func (m metaspacePre) split(ps []piece) []piece {
	out := make([]piece, 0, len(ps))
	for _, p := range ps {
		p.s = strings.ReplaceAll(p.s, " ", m.repl)
		if !strings.HasPrefix(p.s, m.repl) && (m.prepend == "always" || (m.prepend == "first" && p.first)) {
			p.s = m.repl + p.s
		}
		if m.splitWords {
			out = splitPiece(out, p, litMatcher(m.repl), mergedWithNext, false)
		} else if p.s != "" {
			out = append(out, p)
		}
	}
	return out
}

// isBertPunct is BERT's punctuation: ASCII punctuation or Unicode P* (as
// the tables of Hugging Face's tokenizers have it: hfunicode.go).
func isBertPunct(r rune) bool {
	if r < 0x80 {
		return (r >= 0x21 && r <= 0x2F) || (r >= 0x3A && r <= 0x40) || (r >= 0x5B && r <= 0x60) || (r >= 0x7B && r <= 0x7E)
	}
	return (unicode.IsPunct(r) || unicode.Is(hfPunctExtra, r)) && !unicode.Is(hfPunctNot, r)
}

// isWordRune is \w of the Rust regex crate: Alphabetic (letters, letter
// numbers, Other_Alphabetic such as circled letters), marks, decimal
// digits, connector punctuation and the joiners.
func isWordRune(r rune) bool {
	if r < 0x80 {
		return r == '_' || (r >= '0' && r <= '9') || (r|0x20 >= 'a' && r|0x20 <= 'z')
	}
	return unicode.IsLetter(r) || unicode.In(r, unicode.Nl, unicode.Other_Alphabetic, unicode.M, unicode.Nd, unicode.Pc, unicode.Join_Control)
}

// whitespacePre is Whitespace: \w+|[^\w\s]+ runs, whitespace dropped.
type whitespacePre struct{}

func scanWhitespace(s string, i int) int {
	r, w := utf8.DecodeRuneInString(s[i:])
	switch {
	case isWordRune(r):
		return runWhile(s, i+w, isWordRune)
	case !unicode.IsSpace(r):
		return runWhile(s, i+w, func(r rune) bool { return !isWordRune(r) && !unicode.IsSpace(r) })
	}
	return -1
}

func (whitespacePre) split(ps []piece) []piece {
	return splitPre{scanFunc(scanWhitespace), removed, true}.split(ps)
}

// parsePreTokenizer reads a tokenizer.json pre_tokenizer (nil for null).
func parsePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	if kind(raw) == "null" || len(raw) == 0 {
		return nil, nil
	}
	var h struct {
		Type           string            `json:"type"`
		PreTokenizers  []json.RawMessage `json:"pretokenizers"`
		AddPrefixSpace *bool             `json:"add_prefix_space"`
		UseRegex       *bool             `json:"use_regex"`
		Pattern        pattern           `json:"pattern"`
		Behavior       string            `json:"behavior"`
		Invert         bool              `json:"invert"`
		Replacement    *string           `json:"replacement"`
		PrependScheme  *string           `json:"prepend_scheme"`
		Split          *bool             `json:"split"`
		Individual     bool              `json:"individual_digits"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %v", err)
	}
	switch h.Type {
	case "Sequence":
		seq, err := parseSequence(h.PreTokenizers, parsePreTokenizer)
		if err != nil {
			return nil, err
		}
		return preSeq(seq), nil
	case "ByteLevel":
		return byteLevelPre{h.AddPrefixSpace == nil || *h.AddPrefixSpace, h.UseRegex == nil || *h.UseRegex}, nil
	case "Split":
		b, err := parseBehavior(h.Behavior)
		if err != nil {
			return nil, fmt.Errorf("pre_tokenizer Split: %v", err)
		}
		var m matcher
		switch {
		case h.Pattern.String != nil:
			m = litMatcher(*h.Pattern.String)
		case h.Pattern.Regex != nil:
			if f := knownScanner(*h.Pattern.Regex); f != nil {
				m = f
			} else {
				re, err := compileRegex(*h.Pattern.Regex)
				if err != nil {
					return nil, fmt.Errorf("pre_tokenizer Split: %v", err)
				}
				m = reMatcher{re}
			}
		default:
			return nil, fmt.Errorf("pre_tokenizer Split: no String or Regex pattern")
		}
		return splitPre{m, b, h.Invert}, nil
	case "Metaspace":
		m := metaspacePre{repl: "▁", prepend: "always", splitWords: true}
		if h.Replacement != nil {
			m.repl = *h.Replacement
		}
		if h.PrependScheme != nil {
			m.prepend = *h.PrependScheme
		} else if h.AddPrefixSpace != nil && !*h.AddPrefixSpace {
			m.prepend = "never"
		}
		switch m.prepend {
		case "always", "first", "never":
		default:
			return nil, fmt.Errorf("pre_tokenizer Metaspace: prepend_scheme %q is not supported", m.prepend)
		}
		if h.Split != nil {
			m.splitWords = *h.Split
		}
		return m, nil
	case "BertPreTokenizer":
		return preSeq{splitPre{charMatcher(unicode.IsSpace), removed, false}, splitPre{charMatcher(isBertPunct), isolated, false}}, nil
	case "Whitespace":
		return whitespacePre{}, nil
	case "WhitespaceSplit":
		return splitPre{charMatcher(unicode.IsSpace), removed, false}, nil
	case "Punctuation":
		b := isolated
		if h.Behavior != "" {
			var err error
			if b, err = parseBehavior(h.Behavior); err != nil {
				return nil, fmt.Errorf("pre_tokenizer Punctuation: %v", err)
			}
		}
		return splitPre{charMatcher(isBertPunct), b, false}, nil
	case "Digits":
		isDigit := isN // Rust's char::is_numeric: Nd, Nl, No
		if h.Individual {
			return splitPre{charMatcher(isDigit), isolated, false}, nil
		}
		return splitPre{charMatcher(isDigit), contiguous, false}, nil
	}
	return nil, fmt.Errorf("pre_tokenizer %q is not supported", h.Type)
}
