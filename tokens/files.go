package tokens

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The JSON tokenizer files CheckDir parses.
const (
	TokenizerJSON     = "tokenizer.json"
	TokenizerConfig   = "tokenizer_config.json"
	SpecialTokensMap  = "special_tokens_map.json"
	maxTokenizerBytes = 1 << 30
	// maxID bounds a token id far beyond any vocabulary.
	maxID = 1 << 31
)

// files are the names of the tokenizer files of a Hugging Face model
// directory: tokenizers' JSON, transformers' tokenizer configuration, and
// the vocabularies of the slow tokenizers (BPE vocab.json and merges.txt,
// WordPiece vocab.txt, SentencePiece models).
var files = []string{TokenizerJSON, TokenizerConfig, SpecialTokensMap, "added_tokens.json", "vocab.json",
	"vocab.txt", "merges.txt", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model"}

// IsTokenizerFile reports whether a file name in a model directory is a
// tokenizer file (what grow convert --no-tokenizer leaves out).
func IsTokenizerFile(name string) bool { return slices.Contains(files, name) }

// AddedToken is an added token of tokenizer.json or of tokenizer_config.json's
// added_tokens_decoder.
type AddedToken struct {
	ID      int
	Content string
	Special bool
	// The matching flags of tokenizer.json's added_tokens (ParseEncoder
	// reads them): match only whole words, absorb the whitespace on the
	// left or right, match in the normalized rather than the raw text.
	SingleWord, LStrip, RStrip, Normalized bool

	// str is the token's string: Content, normalized when Normalized.
	str string
}

// Tokenizer is what grow reads of a tokenizer.json.
type Tokenizer struct {
	// Model is model.type (BPE, WordPiece, Unigram, WordLevel; "" when absent).
	Model string
	// Vocab maps ids to tokens: model.vocab and the added tokens.
	Vocab map[int]string
	// Added are the added_tokens.
	Added []AddedToken
	// MaxID is the largest id of Vocab (-1 when empty).
	MaxID int
}

// fileError names the file in an error.
func fileError(name, format string, args ...any) error {
	return fmt.Errorf("tokens: %s: %s", name, fmt.Sprintf(format, args...))
}

// jsonError rewrites a decoding error with the file's name (and the line of a
// syntax error).
func jsonError(name string, data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n")) + 1
		return fileError(name, "invalid JSON at line %d: %v", line, err)
	}
	return fileError(name, "invalid JSON: %v", err)
}

// object decodes data as a JSON object whose values are kept raw.
func object(name string, data []byte) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			return nil, fileError(name, "want a JSON object, got %s", te.Value)
		}
		return nil, jsonError(name, data, err)
	}
	if obj == nil {
		return nil, fileError(name, "want a JSON object, got null")
	}
	return obj, nil
}

// kind names the JSON type of a raw value for a message.
func kind(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	switch {
	case s == "":
		return "nothing"
	case s == "null":
		return "null"
	case s[0] == '{':
		return "an object"
	case s[0] == '[':
		return "an array"
	case s[0] == '"':
		return "a string"
	case s == "true" || s == "false":
		return "a boolean"
	}
	return "a number"
}

// tokenID decodes a token id: a whole number in [0, 2^31).
func tokenID(raw json.RawMessage) (int, bool) {
	var f float64
	if json.Unmarshal(raw, &f) != nil || f != math.Trunc(f) || f < 0 || f >= maxID {
		return 0, false
	}
	return int(f), true
}

// ParseTokenizerJSON parses a tokenizer.json: a JSON object whose "model" is
// an object with, when present, a "type" string and a "vocab" that maps
// tokens to ids (BPE, WordPiece, WordLevel) or lists [token, score] pairs
// (Unigram), and whose "added_tokens", when present, is an array of objects
// with an "id" and a "content". name is used in errors.
func ParseTokenizerJSON(data []byte, name string) (*Tokenizer, error) {
	obj, err := object(name, data)
	if err != nil {
		return nil, err
	}
	tk := &Tokenizer{Vocab: map[int]string{}, MaxID: -1}
	rawModel, ok := obj["model"]
	if !ok {
		return nil, fileError(name, `no "model": a tokenizer.json describes its model (BPE, WordPiece, Unigram, ...)`)
	}
	model, err := object(name, rawModel)
	if err != nil || kind(rawModel) != "an object" {
		return nil, fileError(name, `"model" is %s, want an object`, kind(rawModel))
	}
	if raw, ok := model["type"]; ok {
		if err := json.Unmarshal(raw, &tk.Model); err != nil {
			return nil, fileError(name, `"model.type" is %s, want a string`, kind(raw))
		}
	}
	if raw, ok := model["vocab"]; ok && kind(raw) != "null" {
		if err := readVocab(tk, raw); err != nil {
			return nil, fileError(name, `"model.vocab": %v`, err)
		}
	}
	if raw, ok := obj["added_tokens"]; ok && kind(raw) != "null" {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fileError(name, `"added_tokens" is %s, want an array`, kind(raw))
		}
		for i, e := range list {
			a, err := addedToken(e)
			if err != nil {
				return nil, fileError(name, `"added_tokens"[%d]: %v`, i, err)
			}
			tk.Added = append(tk.Added, a)
			tk.Vocab[a.ID] = a.Content
			tk.MaxID = max(tk.MaxID, a.ID)
		}
	}
	return tk, nil
}

// readVocab reads model.vocab into tk.
func readVocab(tk *Tokenizer, raw json.RawMessage) error {
	switch kind(raw) {
	case "an object":
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		for tok, v := range m {
			id, ok := tokenID(v)
			if !ok {
				return fmt.Errorf("token %q has id %s, want a whole number in [0, 2^31)", tok, strings.TrimSpace(string(v)))
			}
			tk.Vocab[id] = tok
			tk.MaxID = max(tk.MaxID, id)
		}
	case "an array":
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return err
		}
		for id, e := range list {
			var pair []json.RawMessage
			var tok string
			if json.Unmarshal(e, &pair) != nil || len(pair) != 2 || json.Unmarshal(pair[0], &tok) != nil || kind(pair[1]) != "a number" {
				return fmt.Errorf("entry %d is %s, want a [token, score] pair", id, strings.TrimSpace(string(e)))
			}
			tk.Vocab[id] = tok
			tk.MaxID = max(tk.MaxID, id)
		}
	default:
		return fmt.Errorf("%s, want an object of token ids or an array of [token, score] pairs", kind(raw))
	}
	return nil
}

// addedToken decodes an added token: an object with a whole "id" and a
// "content" string.
func addedToken(raw json.RawMessage) (AddedToken, error) {
	var a AddedToken
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return a, fmt.Errorf("%s, want an object with an id and a content", kind(raw))
	}
	id, ok := tokenID(obj["id"])
	if !ok {
		return a, fmt.Errorf(`"id" is %s, want a whole number in [0, 2^31)`, strings.TrimSpace(string(obj["id"])))
	}
	if kind(obj["content"]) != "a string" || json.Unmarshal(obj["content"], &a.Content) != nil {
		return a, fmt.Errorf(`"content" is %s, want a string`, kind(obj["content"]))
	}
	if raw, ok := obj["special"]; ok {
		if err := json.Unmarshal(raw, &a.Special); err != nil {
			return a, fmt.Errorf(`"special" is %s, want true or false`, kind(raw))
		}
	}
	a.ID = id
	return a, nil
}

// Config is what grow reads of a tokenizer_config.json or a
// special_tokens_map.json.
type Config struct {
	// Special maps the special-token keys (bos_token, eos_token, unk_token,
	// sep_token, pad_token, cls_token, mask_token) to their content.
	Special map[string]string
	// Added are the entries of added_tokens_decoder, by id.
	Added []AddedToken
}

// specialKeys are the special-token keys of transformers' tokenizers.
var specialKeys = []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}

// ParseTokenizerConfig parses a tokenizer_config.json: a JSON object whose
// special-token keys are null, a string or an object with a "content"
// string, whose "additional_special_tokens" is an array of those, and whose
// "added_tokens_decoder" maps decimal ids to objects with a "content".
func ParseTokenizerConfig(data []byte, name string) (*Config, error) {
	obj, err := object(name, data)
	if err != nil {
		return nil, err
	}
	c, err := specials(obj, name)
	if err != nil {
		return nil, err
	}
	if raw, ok := obj["added_tokens_decoder"]; ok && kind(raw) != "null" {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil || kind(raw) != "an object" {
			return nil, fileError(name, `"added_tokens_decoder" is %s, want an object`, kind(raw))
		}
		for k, v := range m {
			id, err := strconv.Atoi(k)
			if err != nil || id < 0 || id >= maxID || strconv.Itoa(id) != k {
				return nil, fileError(name, `"added_tokens_decoder" key %q is not a token id`, k)
			}
			var e map[string]json.RawMessage
			if json.Unmarshal(v, &e) != nil || e == nil {
				return nil, fileError(name, `"added_tokens_decoder"[%q] is %s, want an object with a content`, k, kind(v))
			}
			a := AddedToken{ID: id}
			if kind(e["content"]) != "a string" || json.Unmarshal(e["content"], &a.Content) != nil {
				return nil, fileError(name, `"added_tokens_decoder"[%q].content is %s, want a string`, k, kind(e["content"]))
			}
			if raw, ok := e["special"]; ok {
				if json.Unmarshal(raw, &a.Special) != nil {
					return nil, fileError(name, `"added_tokens_decoder"[%q].special is %s, want true or false`, k, kind(raw))
				}
			}
			c.Added = append(c.Added, a)
		}
		sort.Slice(c.Added, func(i, j int) bool { return c.Added[i].ID < c.Added[j].ID })
	}
	for _, k := range []string{"model_max_length"} {
		if raw, ok := obj[k]; ok && kind(raw) != "null" && kind(raw) != "a number" {
			return nil, fileError(name, "%q is %s, want a number", k, kind(raw))
		}
	}
	return c, nil
}

// ParseSpecialTokensMap parses a special_tokens_map.json: a JSON object of
// special tokens (null, a string or an object with a "content" string) and
// additional_special_tokens (an array of those).
func ParseSpecialTokensMap(data []byte, name string) (*Config, error) {
	obj, err := object(name, data)
	if err != nil {
		return nil, err
	}
	return specials(obj, name)
}

// specials reads the special-token keys of obj.
func specials(obj map[string]json.RawMessage, name string) (*Config, error) {
	c := &Config{Special: map[string]string{}}
	for _, k := range specialKeys {
		raw, ok := obj[k]
		if !ok {
			continue
		}
		s, isNull, err := tokenText(raw)
		if err != nil {
			return nil, fileError(name, "%q is %s, want null, a string or an object with a content string", k, kind(raw))
		}
		if !isNull {
			c.Special[k] = s
		}
	}
	if raw, ok := obj["additional_special_tokens"]; ok && kind(raw) != "null" {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			return nil, fileError(name, `"additional_special_tokens" is %s, want an array`, kind(raw))
		}
		for i, e := range list {
			if _, isNull, err := tokenText(e); err != nil || isNull {
				return nil, fileError(name, `"additional_special_tokens"[%d] is %s, want a string or an object with a content string`, i, kind(e))
			}
		}
	}
	return c, nil
}

// tokenText decodes a special token: a string, or an object with a "content"
// string (transformers' AddedToken), or null.
func tokenText(raw json.RawMessage) (s string, isNull bool, err error) {
	switch kind(raw) {
	case "null":
		return "", true, nil
	case "a string":
		err = json.Unmarshal(raw, &s)
		return s, false, err
	case "an object":
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return "", false, err
		}
		if kind(obj["content"]) != "a string" {
			return "", false, fmt.Errorf("no content string")
		}
		err = json.Unmarshal(obj["content"], &s)
		return s, false, err
	}
	return "", false, fmt.Errorf("%s", kind(raw))
}

// Info is what CheckDir found.
type Info struct {
	// Tokenizer is tokenizer.json (nil when absent).
	Tokenizer *Tokenizer
	// Config is tokenizer_config.json and SpecialMap special_tokens_map.json
	// (nil when absent).
	Config, SpecialMap *Config
	// Files are the tokenizer files present (IsTokenizerFile), sorted.
	Files []string
}

// CheckDir parses the JSON tokenizer files of dir that are present
// (tokenizer.json, tokenizer_config.json, special_tokens_map.json): a file
// that is not a regular file, cannot be read, or does not parse is an error
// naming it.
func CheckDir(dir string) (*Info, error) {
	info := &Info{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	for _, e := range ents {
		if IsTokenizerFile(e.Name()) {
			info.Files = append(info.Files, e.Name())
		}
	}
	read := func(base string) ([]byte, string, error) {
		p := filepath.Join(dir, base)
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if _, lerr := os.Lstat(p); lerr == nil {
				return nil, p, fileError(p, "a symbolic link to nothing")
			}
			return nil, p, nil
		}
		if err != nil {
			return nil, p, fmt.Errorf("tokens: %w", err)
		}
		if !st.Mode().IsRegular() {
			what := "not a regular file"
			if st.IsDir() {
				what = "a directory, not a file"
			}
			return nil, p, fileError(p, "%s", what)
		}
		if st.Size() > maxTokenizerBytes {
			return nil, p, fileError(p, "%d bytes, more than the %d accepted", st.Size(), maxTokenizerBytes)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, p, fmt.Errorf("tokens: %w", err)
		}
		return b, p, nil
	}
	if b, p, err := read(TokenizerJSON); err != nil {
		return nil, err
	} else if b != nil {
		if info.Tokenizer, err = ParseTokenizerJSON(b, p); err != nil {
			return nil, err
		}
	}
	if b, p, err := read(TokenizerConfig); err != nil {
		return nil, err
	} else if b != nil {
		if info.Config, err = ParseTokenizerConfig(b, p); err != nil {
			return nil, err
		}
	}
	if b, p, err := read(SpecialTokensMap); err != nil {
		return nil, err
	} else if b != nil {
		if info.SpecialMap, err = ParseSpecialTokensMap(b, p); err != nil {
			return nil, err
		}
	}
	return info, nil
}

// ReadVocab reads id → token from dir's tokenizer.json (model.vocab and
// added_tokens), vocab.json or vocab.txt, whichever is there and readable
// first; nil when none is. Token strings are a convenience of displays: an
// unreadable file gives nil here, and CheckDir is what refuses it.
func ReadVocab(dir string) map[int]string {
	if dir == "" {
		return nil
	}
	if b, err := os.ReadFile(filepath.Join(dir, TokenizerJSON)); err == nil {
		if tk, err := ParseTokenizerJSON(b, TokenizerJSON); err == nil && len(tk.Vocab) > 0 {
			return tk.Vocab
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "vocab.json")); err == nil {
		if v, err := ParseVocabJSON(b, "vocab.json"); err == nil {
			return v
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "vocab.txt")); err == nil {
		return ParseVocabTxt(b)
	}
	return nil
}

// ParseVocabJSON parses a BPE vocab.json: an object mapping tokens to ids.
func ParseVocabJSON(data []byte, name string) (map[int]string, error) {
	obj, err := object(name, data)
	if err != nil {
		return nil, err
	}
	out := make(map[int]string, len(obj))
	for tok, v := range obj {
		id, ok := tokenID(v)
		if !ok {
			return nil, fileError(name, "token %q has id %s, want a whole number in [0, 2^31)", tok, strings.TrimSpace(string(v)))
		}
		out[id] = tok
	}
	return out, nil
}

// ParseVocabTxt parses a WordPiece vocab.txt: one token per line, the line
// number its id.
func ParseVocabTxt(data []byte) map[int]string {
	out := map[int]string{}
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		out[i] = strings.TrimRight(line, "\r")
	}
	return out
}
