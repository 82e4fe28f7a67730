package tokens

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// wordPiece is the WordPiece model: greedy longest match from the left,
// continuing pieces prefixed (##); a word with a part that matches nothing,
// or longer than maxChars characters, is the unknown token.
type wordPiece struct {
	*vocab
	unk      string
	unkID    int
	prefix   string
	maxChars int
}

func parseWordPiece(raw json.RawMessage) (*wordPiece, error) {
	var j struct {
		Unk      *string        `json:"unk_token"`
		Prefix   *string        `json:"continuing_subword_prefix"`
		MaxChars *int           `json:"max_input_chars_per_word"`
		Vocab    map[string]int `json:"vocab"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("model WordPiece: %v", err)
	}
	v, err := newVocab(j.Vocab)
	if err != nil {
		return nil, fmt.Errorf("model WordPiece: vocab: %v", err)
	}
	m := &wordPiece{vocab: v, unk: "[UNK]", prefix: "##", maxChars: 100}
	if j.Unk != nil {
		m.unk = *j.Unk
	}
	if j.Prefix != nil {
		m.prefix = *j.Prefix
	}
	if j.MaxChars != nil {
		m.maxChars = *j.MaxChars
	}
	id, ok := v.ids[m.unk]
	if !ok {
		return nil, fmt.Errorf("model WordPiece: unk_token %q is not in the vocabulary", m.unk)
	}
	m.unkID = id
	return m, nil
}

func (m *wordPiece) tokenize(word string, out []Token) []Token {
	if word == "" {
		return out
	}
	if utf8.RuneCountInString(word) > m.maxChars {
		return append(out, Token{m.unkID, m.unk})
	}
	n := len(out)
	for start := 0; start < len(word); {
		end := len(word)
		found := -1
		var piece string
		for end > start {
			s := word[start:end]
			if start > 0 {
				s = m.prefix + s
			}
			if id, ok := m.ids[s]; ok {
				found, piece = id, s
				break
			}
			_, w := utf8.DecodeLastRuneInString(word[start:end])
			end -= w
		}
		if found < 0 {
			return append(out[:n], Token{m.unkID, m.unk})
		}
		out = append(out, Token{found, piece})
		start = end
	}
	return out
}

// wordLevel is the WordLevel model: a word is its vocabulary entry or the
// unknown token.
type wordLevel struct {
	*vocab
	unk string
}

func parseWordLevel(raw json.RawMessage) (*wordLevel, error) {
	var j struct {
		Unk   string         `json:"unk_token"`
		Vocab map[string]int `json:"vocab"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("model WordLevel: %v", err)
	}
	v, err := newVocab(j.Vocab)
	if err != nil {
		return nil, fmt.Errorf("model WordLevel: vocab: %v", err)
	}
	return &wordLevel{v, j.Unk}, nil
}

func (m *wordLevel) tokenize(word string, out []Token) []Token {
	if id, ok := m.ids[word]; ok {
		return append(out, Token{id, word})
	}
	if id, ok := m.ids[m.unk]; ok {
		return append(out, Token{id, m.unk})
	}
	return out
}
