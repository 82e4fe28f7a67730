package tokens

import (
	"unicode"
	"unicode/utf8"
)

// Hand-written scanners for the pre-tokenizer regexes of byte-level BPE
// tokenizers. The regexes need lookahead (\s+(?!\S)), which Go's regexp
// lacks; each scanner returns the end of the match of the regex at a
// position, trying the alternatives in order as a backtracking engine
// (Oniguruma, which Hugging Face's tokenizers use) does. \p{L} is
// unicode.IsLetter, \p{N} unicode.IsNumber and \s unicode.IsSpace (the
// Unicode White_Space property, as Oniguruma's \s), with the letters and
// numbers of Oniguruma's newer Unicode tables added (hfunicode.go).

// The regexes the scanners implement, as tokenizer.json spells them.
const (
	// GPT2Pattern is GPT-2's (the ByteLevel pre-tokenizer's built-in regex).
	GPT2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// Llama3Pattern is Llama-3's (tiktoken cl100k style: digits in threes).
	Llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// Qwen2Pattern is Qwen2's (single digits).
	Qwen2Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// knownScanner returns the scanner of a known pre-tokenizer regex, nil for
// any other.
func knownScanner(p string) matcher {
	switch p {
	case GPT2Pattern:
		return scanFunc(scanGPT2)
	case Llama3Pattern:
		return scanFunc(func(s string, i int) int { return scanLlama3(s, i, 3) })
	case Qwen2Pattern:
		return scanFunc(func(s string, i int) int { return scanLlama3(s, i, 1) })
	}
	return nil
}

func isL(r rune) bool {
	return unicode.IsLetter(r) || r >= 0x80 && unicode.Is(hfLetterExtra, r)
}

func isN(r rune) bool {
	return unicode.IsNumber(r) || r >= 0x80 && unicode.Is(hfNumberExtra, r)
}
func isS(r rune) bool { return unicode.IsSpace(r) }

// isO is [^\s\p{L}\p{N}].
func isO(r rune) bool { return !isS(r) && !isL(r) && !isN(r) }

// runWhile returns the end of the run of runes from i for which f holds.
func runWhile(s string, i int, f func(rune) bool) int {
	for i < len(s) {
		r, w := decode(s, i)
		if !f(r) {
			break
		}
		i += w
	}
	return i
}

// decode is utf8.DecodeRuneInString at s[i:], with an ASCII fast path.
func decode(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// contraction returns the end of 's|'t|'re|'ve|'m|'ll|'d at i (s[i] is
// '\”), -1 when none; fold makes it case-insensitive.
func contraction(s string, i int, fold bool) int {
	if i+1 >= len(s) {
		return -1
	}
	c := s[i+1]
	if fold && c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	switch c {
	case 's', 't', 'm', 'd':
		return i + 2
	case 'r', 'v', 'l':
		if i+2 >= len(s) {
			return -1
		}
		d := s[i+2]
		if fold && d >= 'A' && d <= 'Z' {
			d += 'a' - 'A'
		}
		if (c == 'r' && d == 'e') || (c == 'v' && d == 'e') || (c == 'l' && d == 'l') {
			return i + 3
		}
	}
	if fold && i+1 < len(s) {
		// (?i)'s also matches the long s (U+017F), which folds to s.
		if r, w := utf8.DecodeRuneInString(s[i+1:]); r == 'ſ' {
			return i + 1 + w
		}
	}
	return -1
}

// trailingSpace is \s+(?!\S)|\s+ at i, where s[i] is whitespace: the run of
// whitespace, less its last rune when a non-space follows and the run has
// more than one rune.
func trailingSpace(s string, i int) int {
	w := runWhile(s, i, isS)
	if w == len(s) {
		return w
	}
	_, lw := utf8.DecodeLastRuneInString(s[:w])
	if w-lw > i {
		return w - lw
	}
	return w
}

// scanGPT2 scans GPT2Pattern.
func scanGPT2(s string, i int) int {
	r, w := decode(s, i)
	if r == '\'' {
		if e := contraction(s, i, false); e > 0 {
			return e
		}
	}
	j, rj := i, r
	if r == ' ' && i+1 < len(s) {
		j = i + 1
		rj, w = decode(s, j)
	}
	switch {
	case isL(rj):
		return runWhile(s, j+w, isL)
	case isN(rj):
		return runWhile(s, j+w, isN)
	case isO(rj):
		return runWhile(s, j+w, isO)
	}
	return trailingSpace(s, i)
}

// scanLlama3 scans Llama3Pattern (maxDigits 3) or Qwen2Pattern (1).
func scanLlama3(s string, i int, maxDigits int) int {
	r, w := decode(s, i)
	// (?i:'s|'t|'re|'ve|'m|'ll|'d)
	if r == '\'' {
		if e := contraction(s, i, true); e > 0 {
			return e
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if isL(r) {
		return runWhile(s, i+w, isL)
	}
	if r != '\r' && r != '\n' && !isN(r) && i+w < len(s) {
		if r2, w2 := decode(s, i+w); isL(r2) {
			return runWhile(s, i+w+w2, isL)
		}
	}
	// \p{N}{1,3}
	if isN(r) {
		e := i + w
		for n := 1; n < maxDigits && e < len(s); n++ {
			r2, w2 := decode(s, e)
			if !isN(r2) {
				break
			}
			e += w2
		}
		return e
	}
	//  ?[^\s\p{L}\p{N}]+[\r\n]*
	j, rj, wj := i, r, w
	if r == ' ' && i+1 < len(s) {
		j = i + 1
		rj, wj = decode(s, j)
	}
	if isO(rj) {
		e := runWhile(s, j+wj, isO)
		return runWhile(s, e, func(r rune) bool { return r == '\r' || r == '\n' })
	}
	if !isS(r) {
		return -1
	}
	// \s*[\r\n]+: through the last newline of the whitespace run.
	end := runWhile(s, i, isS)
	for k := end - 1; k >= i; k-- {
		if s[k] == '\r' || s[k] == '\n' {
			return k + 1
		}
	}
	// \s+(?!\S)|\s+
	return trailingSpace(s, i)
}
