package tokens

import (
	"encoding/json"
	"fmt"
)

// postProcessor adds the special tokens of a single sequence (BOS, [CLS] …
// [SEP]) when special tokens are asked for.
type postProcessor interface {
	process(ts []Token) []Token
}

type postSeq []postProcessor

func (p postSeq) process(ts []Token) []Token {
	for _, q := range p {
		ts = q.process(ts)
	}
	return ts
}

// templatePost is TemplateProcessing's single template: special tokens
// around the sequence $A.
type templatePost struct {
	before, after []Token
}

func (t templatePost) process(ts []Token) []Token {
	if len(t.before) == 0 && len(t.after) == 0 {
		return ts
	}
	out := make([]Token, 0, len(t.before)+len(ts)+len(t.after))
	out = append(out, t.before...)
	out = append(out, ts...)
	return append(out, t.after...)
}

// parsePostProcessor reads a tokenizer.json post_processor (nil for null or
// one that adds no tokens, such as ByteLevel).
func parsePostProcessor(raw json.RawMessage) (postProcessor, error) {
	if kind(raw) == "null" || len(raw) == 0 {
		return nil, nil
	}
	var h struct {
		Type       string            `json:"type"`
		Processors []json.RawMessage `json:"processors"`
		Single     json.RawMessage   `json:"single"`
		Special    map[string]struct {
			IDs    []int    `json:"ids"`
			Tokens []string `json:"tokens"`
		} `json:"special_tokens"`
		Sep *[2]json.RawMessage `json:"sep"`
		Cls *[2]json.RawMessage `json:"cls"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("post_processor: %v", err)
	}
	switch h.Type {
	case "Sequence":
		seq, err := parseSequence(h.Processors, parsePostProcessor)
		if err != nil {
			return nil, err
		}
		return postSeq(seq), nil
	case "ByteLevel":
		return nil, nil
	case "TemplateProcessing":
		var items []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
			Sequence *struct {
				ID string `json:"id"`
			} `json:"Sequence"`
		}
		if err := json.Unmarshal(h.Single, &items); err != nil {
			return nil, fmt.Errorf("post_processor TemplateProcessing: single: want a list of SpecialToken and Sequence items")
		}
		var t templatePost
		seen := false
		for _, it := range items {
			switch {
			case it.Sequence != nil:
				if it.Sequence.ID != "A" || seen {
					return nil, fmt.Errorf("post_processor TemplateProcessing: single has sequence %q, want $A once", it.Sequence.ID)
				}
				seen = true
			case it.SpecialToken != nil:
				sp, ok := h.Special[it.SpecialToken.ID]
				if !ok || len(sp.IDs) != len(sp.Tokens) {
					return nil, fmt.Errorf("post_processor TemplateProcessing: special token %q is not in special_tokens", it.SpecialToken.ID)
				}
				for i, id := range sp.IDs {
					tok := Token{id, sp.Tokens[i]}
					if seen {
						t.after = append(t.after, tok)
					} else {
						t.before = append(t.before, tok)
					}
				}
			default:
				return nil, fmt.Errorf("post_processor TemplateProcessing: an item of single is neither SpecialToken nor Sequence")
			}
		}
		return t, nil
	case "BertProcessing", "RobertaProcessing":
		if h.Sep == nil || h.Cls == nil {
			return nil, fmt.Errorf("post_processor %s: want sep and cls", h.Type)
		}
		tok := func(p [2]json.RawMessage) (Token, error) {
			var t Token
			if json.Unmarshal(p[0], &t.Piece) != nil || json.Unmarshal(p[1], &t.ID) != nil {
				return t, fmt.Errorf("post_processor %s: want [token, id] pairs", h.Type)
			}
			return t, nil
		}
		cls, err := tok(*h.Cls)
		if err != nil {
			return nil, err
		}
		sep, err := tok(*h.Sep)
		if err != nil {
			return nil, err
		}
		return templatePost{[]Token{cls}, []Token{sep}}, nil
	}
	return nil, fmt.Errorf("post_processor %q is not supported", h.Type)
}
