package tokens

import (
	"strings"
	"unicode/utf8"
)

// The byte-level alphabet of GPT-2 style tokenizers: every byte maps to one
// printable code point, identity for 0x21–0x7E, 0xA1–0xAC and 0xAE–0xFF and
// U+0100 onwards, in increasing byte order, for the other 68 bytes (so a
// space is "Ġ", U+0120, and a newline "Ċ", U+010A).
var (
	byteChar [256]rune
	charByte = map[rune]byte{}
	// byteCharStr[b] is string(byteChar[b]).
	byteCharStr [256]string
)

func init() {
	n := rune(0)
	for b := 0; b < 256; b++ {
		if (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteChar[b] = rune(b)
		} else {
			byteChar[b] = 0x100 + n
			n++
		}
		charByte[byteChar[b]] = byte(b)
		byteCharStr[b] = string(byteChar[b])
	}
}

// ByteLevelForm maps the bytes of s to the byte-level alphabet: the form in
// which a byte-level BPE vocabulary stores text (" hello" → "Ġhello").
func ByteLevelForm(s string) string {
	var sb strings.Builder
	sb.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		sb.WriteString(byteCharStr[s[i]])
	}
	return sb.String()
}

// ByteLevelBytes maps a string of the byte-level alphabet back to its bytes;
// ok is false when a character is outside the alphabet.
func ByteLevelBytes(s string) (b []byte, ok bool) {
	b = make([]byte, 0, len(s))
	for _, r := range s {
		c, in := charByte[r]
		if !in {
			return nil, false
		}
		b = append(b, c)
	}
	return b, true
}

// runeLen is utf8.RuneLen with 1 for an invalid rune (how a
// string ranges over invalid bytes).
func runeLen(r rune) int {
	if n := utf8.RuneLen(r); n > 0 {
		return n
	}
	return 1
}
