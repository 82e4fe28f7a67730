package tokens

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Encoder is a tokenizer.json parsed for encoding and decoding as Hugging
// Face's tokenizers library does, with the bytes it was read from (Bytes
// gives them back unchanged; the Add methods edit them surgically).
//
// Supported: models BPE (byte-level as GPT-2, Llama-3 and Qwen2, and
// SentencePiece-style with byte fallback as Llama-2 and Mistral), WordPiece
// and WordLevel; normalizers Sequence, Replace, Prepend, NFC, NFD, NFKC,
// NFKD, Lowercase, Strip, StripAccents and BertNormalizer; pre-tokenizers
// Sequence, ByteLevel, Split (literal patterns, the GPT-2, Llama-3 and Qwen2
// regexes, and regexes that mean the same in Go's regexp), Metaspace,
// BertPreTokenizer, Whitespace, WhitespaceSplit, Punctuation and Digits;
// post-processors TemplateProcessing, BertProcessing, RobertaProcessing,
// ByteLevel and Sequence; decoders ByteLevel, Replace, ByteFallback, Fuse,
// Strip, WordPiece, Metaspace and Sequence. Anything else is refused with
// an error naming it. Truncation and padding are not applied.
type Encoder struct {
	raw       []byte
	name      string
	modelType string
	norm      normalizer
	pre       preTokenizer
	model     model
	post      postProcessor
	dec       decoder

	added    []AddedToken
	addedID  map[string]int
	addedTok map[int]*AddedToken
	rawTrie  *trie // added tokens matched in the raw text
	normTrie *trie // added tokens matched in the normalized text

	edits edits // tokens added since the file was read
}

// Load reads dir/tokenizer.json.
func Load(dir string) (*Encoder, error) {
	p := filepath.Join(dir, TokenizerJSON)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return ParseEncoder(b, p)
}

// ParseEncoder parses a tokenizer.json; name is used in errors.
func ParseEncoder(data []byte, name string) (*Encoder, error) {
	if _, err := ParseTokenizerJSON(data, name); err != nil {
		return nil, err
	}
	var top struct {
		AddedTokens   []json.RawMessage `json:"added_tokens"`
		Normalizer    json.RawMessage   `json:"normalizer"`
		PreTokenizer  json.RawMessage   `json:"pre_tokenizer"`
		PostProcessor json.RawMessage   `json:"post_processor"`
		Decoder       json.RawMessage   `json:"decoder"`
		Model         json.RawMessage   `json:"model"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, jsonError(name, data, err)
	}
	e := &Encoder{raw: data, name: name}
	var err error
	if e.norm, err = parseNormalizer(top.Normalizer); err != nil {
		return nil, fileError(name, "%v", err)
	}
	if e.pre, err = parsePreTokenizer(top.PreTokenizer); err != nil {
		return nil, fileError(name, "%v", err)
	}
	if e.post, err = parsePostProcessor(top.PostProcessor); err != nil {
		return nil, fileError(name, "%v", err)
	}
	if e.dec, err = parseDecoder(top.Decoder); err != nil {
		return nil, fileError(name, "%v", err)
	}
	if e.model, e.modelType, err = parseModel(top.Model); err != nil {
		return nil, fileError(name, "%v", err)
	}
	for i, raw := range top.AddedTokens {
		a, err := parseAdded(raw)
		if err != nil {
			return nil, fileError(name, `"added_tokens"[%d]: %v`, i, err)
		}
		e.added = append(e.added, a)
	}
	e.refreshAdded()
	return e, nil
}

// parseModel reads model and names its type.
func parseModel(raw json.RawMessage) (model, string, error) {
	var h struct {
		Type     string          `json:"type"`
		Merges   json.RawMessage `json:"merges"`
		MaxChars json.RawMessage `json:"max_input_chars_per_word"`
		Vocab    json.RawMessage `json:"vocab"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, "", fmt.Errorf("model: %v", err)
	}
	if h.Type == "" {
		switch {
		case h.Merges != nil:
			h.Type = "BPE"
		case h.MaxChars != nil:
			h.Type = "WordPiece"
		case kind(h.Vocab) == "an array":
			h.Type = "Unigram"
		default:
			h.Type = "WordLevel"
		}
	}
	var m model
	var err error
	switch h.Type {
	case "BPE":
		m, err = parseBPE(raw)
	case "WordPiece":
		m, err = parseWordPiece(raw)
	case "WordLevel":
		m, err = parseWordLevel(raw)
	default:
		err = fmt.Errorf("model %q is not supported (BPE, WordPiece and WordLevel are)", h.Type)
	}
	return m, h.Type, err
}

// parseAdded reads an entry of added_tokens with its flags.
func parseAdded(raw json.RawMessage) (AddedToken, error) {
	a, err := addedToken(raw)
	if err != nil {
		return a, err
	}
	var f struct {
		SingleWord *bool `json:"single_word"`
		LStrip     *bool `json:"lstrip"`
		RStrip     *bool `json:"rstrip"`
		Normalized *bool `json:"normalized"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return a, fmt.Errorf("flags: %v", err)
	}
	get := func(p *bool, def bool) bool {
		if p == nil {
			return def
		}
		return *p
	}
	a.SingleWord, a.LStrip, a.RStrip = get(f.SingleWord, false), get(f.LStrip, false), get(f.RStrip, false)
	a.Normalized = get(f.Normalized, !a.Special)
	return a, nil
}

// refreshAdded rebuilds the added-token tables and matchers.
func (e *Encoder) refreshAdded() {
	e.addedID = map[string]int{}
	e.addedTok = map[int]*AddedToken{}
	var raw, normed []trieEntry
	for i := range e.added {
		a := &e.added[i]
		if a.Content == "" {
			continue
		}
		e.addedID[a.Content] = a.ID
		e.addedTok[a.ID] = a
		a.str = a.Content
		if a.Normalized {
			c := a.Content
			if e.norm != nil {
				c = e.norm.normalize(c)
			}
			// Hugging Face's tokenizers name a normalized added token by
			// its normalized content (its token string, what decoding
			// gives).
			a.str = c
			normed = append(normed, trieEntry{c, a})
		} else {
			raw = append(raw, trieEntry{a.Content, a})
		}
	}
	e.rawTrie, e.normTrie = newTrie(raw), newTrie(normed)
}

// trieEntry is a pattern of an added token.
type trieEntry struct {
	pat string
	tok *AddedToken
}

// trie finds added tokens leftmost-longest, as the Aho-Corasick automaton of
// Hugging Face's AddedVocabulary.
type trie struct {
	byFirst map[byte][]trieEntry // longest first
}

func newTrie(es []trieEntry) *trie {
	t := &trie{byFirst: map[byte][]trieEntry{}}
	for _, e := range es {
		if e.pat == "" {
			continue
		}
		t.byFirst[e.pat[0]] = append(t.byFirst[e.pat[0]], e)
	}
	for _, l := range t.byFirst {
		sort.SliceStable(l, func(i, j int) bool { return len(l[i].pat) > len(l[j].pat) })
	}
	return t
}

// segment is a piece of text, or an added token (tok != nil).
type segment struct {
	piece
	tok *AddedToken
}

// isWordEnd and isWordStart are \w$ and ^\w.
func isWordEnd(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && isWordRune(r)
}

func isWordStart(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isWordRune(r)
}

// split splits p at the added tokens the trie finds, with their single_word,
// lstrip and rstrip flags, appending to out.
func (t *trie) split(out []segment, p piece) []segment {
	s := p.s
	if len(t.byFirst) == 0 || s == "" {
		return append(out, segment{piece: p})
	}
	startOffset := 0
	for i := 0; i < len(s); {
		var hit *trieEntry
		for k, e := range t.byFirst[s[i]] {
			if strings.HasPrefix(s[i:], e.pat) {
				hit = &t.byFirst[s[i]][k]
				break
			}
		}
		if hit == nil {
			i++
			continue
		}
		start, stop := i, i+len(hit.pat)
		i = stop
		a := hit.tok
		if a.SingleWord && !((start == 0 || !isWordEnd(s[:start])) && (stop == len(s) || !isWordStart(s[stop:]))) {
			continue
		}
		if a.LStrip {
			ns := len(strings.TrimRightFunc(s[:start], unicode.IsSpace))
			start = max(ns, startOffset)
		}
		if a.RStrip {
			stop = len(s) - len(strings.TrimLeftFunc(s[stop:], unicode.IsSpace))
			i = stop
		}
		if startOffset < start {
			out = append(out, segment{piece: piece{s[startOffset:start], p.first && startOffset == 0}})
		}
		out = append(out, segment{piece: piece{s[start:stop], false}, tok: a})
		startOffset = stop
	}
	if startOffset < len(s) {
		out = append(out, segment{piece: piece{s[startOffset:], p.first && startOffset == 0}})
	}
	return out
}

// validUTF8 replaces every invalid byte of s with U+FFFD.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		sb.WriteRune(r)
	}
	return sb.String()
}

// Encode tokenizes text as Hugging Face's Tokenizer.encode does: added
// tokens split out, the rest normalized, pre-tokenized and run through the
// model; addSpecial adds the post-processor's special tokens (BOS, [CLS] …
// [SEP]). Invalid UTF-8 is read as U+FFFD.
func (e *Encoder) Encode(text string, addSpecial bool) []Token {
	text = validUTF8(text)
	var out []Token
	for _, seg := range e.rawTrie.split(nil, piece{text, true}) {
		if seg.tok != nil {
			out = append(out, Token{seg.tok.ID, seg.tok.str})
			continue
		}
		s := seg.s
		if e.norm != nil {
			s = e.norm.normalize(s)
		}
		for _, sub := range e.normTrie.split(nil, piece{s, seg.first}) {
			if sub.tok != nil {
				out = append(out, Token{sub.tok.ID, sub.tok.str})
				continue
			}
			out = e.tokenizePiece(sub.piece, out)
		}
	}
	if addSpecial && e.post != nil {
		out = e.post.process(out)
	}
	return out
}

// tokenizePiece pre-tokenizes a normalized piece and runs the model on its
// words.
func (e *Encoder) tokenizePiece(p piece, out []Token) []Token {
	if p.s == "" {
		return out
	}
	if e.pre == nil {
		return e.model.tokenize(p.s, out)
	}
	for _, w := range e.pre.split([]piece{p}) {
		out = e.model.tokenize(w.s, out)
	}
	return out
}

// IDs returns the ids of Encode(text, addSpecial).
func (e *Encoder) IDs(text string, addSpecial bool) []int {
	ts := e.Encode(text, addSpecial)
	ids := make([]int, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return ids
}

// Decode turns ids back into text as Hugging Face's Tokenizer.decode does
// (skipSpecial drops special added tokens); unknown ids are dropped.
func (e *Encoder) Decode(ids []int, skipSpecial bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if a, ok := e.addedTok[id]; ok {
			if !(skipSpecial && a.Special) {
				toks = append(toks, a.str)
			}
			continue
		}
		if t, ok := e.model.token(id); ok {
			toks = append(toks, t)
		}
	}
	if e.dec == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(e.dec.decode(toks), "")
}

// Bytes returns the tokenizer.json as it was read, with the tokens added
// since (Add) written into model.vocab, model.merges and added_tokens as
// their existing entries are laid out; an unchanged file is the same bytes.
func (e *Encoder) Bytes() ([]byte, error) { return e.render() }

// ModelType is model.type: BPE, WordPiece or WordLevel.
func (e *Encoder) ModelType() string { return e.modelType }

// TokenID returns the id of a token (an added token's content or a model
// vocabulary entry).
func (e *Encoder) TokenID(tok string) (int, bool) {
	if id, ok := e.addedID[tok]; ok {
		return id, true
	}
	return e.model.id(tok)
}

// TokenString returns the string of an id (an added token's content,
// normalized when the token is, or the model vocabulary's entry).
func (e *Encoder) TokenString(id int) (string, bool) {
	if a, ok := e.addedTok[id]; ok {
		return a.str, true
	}
	return e.model.token(id)
}

// Added returns the added tokens in file order.
func (e *Encoder) Added() []AddedToken { return append([]AddedToken(nil), e.added...) }

// Len is the number of distinct ids (the model vocabulary and the added
// tokens not in it): transformers' len(tokenizer).
func (e *Encoder) Len() int {
	n := e.model.size()
	for _, a := range e.added {
		if t, ok := e.model.token(a.ID); !ok || t != a.Content {
			if _, in := e.model.id(a.Content); !in {
				n++
			}
		}
	}
	return n
}

// MaxID is the largest id of the model vocabulary and the added tokens.
func (e *Encoder) MaxID() int {
	m := -1
	switch v := e.model.(type) {
	case *bpe:
		m = len(v.toks) - 1
	case *wordPiece:
		m = len(v.toks) - 1
	case *wordLevel:
		m = len(v.toks) - 1
	}
	for _, a := range e.added {
		m = max(m, a.ID)
	}
	return m
}
