package tokens

import "strings"

// Documents splits a text into documents at blank lines (CRLF line ends
// read as LF); a document keeps its inner line breaks, and empty ones are
// dropped. It is how grow reads calibration and evaluation text.
func Documents(text string) []string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var out []string
	for _, d := range strings.Split(text, "\n\n") {
		d = strings.Trim(d, "\n")
		if strings.TrimSpace(d) != "" {
			out = append(out, d)
		}
	}
	return out
}
