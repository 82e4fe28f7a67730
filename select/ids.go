package selection

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/grow-ml/grow/tokens"
)

// ParseIDs reads token-id sequences: one per line, ids separated by commas
// and/or spaces; blank lines and lines starting with # are skipped. what
// names the input in errors ("--calib-ids stories.ids").
func ParseIDs(data []byte, what string) ([][]int, error) {
	var seqs [][]int
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var ids []int
		for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			id, err := strconv.Atoi(f)
			if err != nil || id < 0 || id >= 1<<31 {
				return nil, fmt.Errorf("%s line %d: %q is not a token id", what, n+1, f)
			}
			ids = append(ids, id)
		}
		seqs = append(seqs, ids)
	}
	if len(seqs) == 0 {
		return nil, fmt.Errorf("%s: no sequences", what)
	}
	return seqs, nil
}

// TextSequences tokenizes a calibration or evaluation text with a model's
// tokenizer: documents are separated by blank lines, and each is encoded
// as Hugging Face's Tokenizer.encode does with its special tokens (a
// Llama's BOS first). what names the input in errors ("--calib
// stories.txt").
func TextSequences(enc *tokens.Encoder, data []byte, what string) ([][]int, error) {
	var seqs [][]int
	for _, doc := range tokens.Documents(string(data)) {
		if ids := enc.IDs(doc, true); len(ids) > 0 {
			seqs = append(seqs, ids)
		}
	}
	if len(seqs) == 0 {
		return nil, fmt.Errorf("%s: no text", what)
	}
	return seqs, nil
}
