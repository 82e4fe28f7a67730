package tokens

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testdata = filepath.Join("..", "testdata")

// The tokenizer files of the testdata models parse.
func TestTestdataTokenizers(t *testing.T) {
	for _, tc := range []struct {
		model, kind string
		vocab, max  int
		special     string
	}{
		{"stories260k", "BPE", 512, 511, "<s>"},
		{"gpt2-random-realtok", "BPE", 50257, 50256, "<|endoftext|>"},
		{"bert-random-realtok", "WordPiece", 30522, 30521, ""},
	} {
		info, err := CheckDir(filepath.Join(testdata, tc.model))
		if err != nil {
			t.Fatalf("%s: %v", tc.model, err)
		}
		tk := info.Tokenizer
		if tk == nil || tk.Model != tc.kind || len(tk.Vocab) != tc.vocab || tk.MaxID != tc.max {
			t.Errorf("%s: %+v", tc.model, tk)
		}
		if info.Config == nil || info.Config.Special["bos_token"] != tc.special {
			t.Errorf("%s: tokenizer_config.json specials %v", tc.model, info.Config)
		}
	}
	info, err := CheckDir(filepath.Join(testdata, "gpt2-random-toyvocab"))
	if err != nil || info.Tokenizer != nil || len(ReadVocab(filepath.Join(testdata, "gpt2-random-toyvocab"))) != 21 {
		t.Errorf("toyvocab: %+v %v", info, err)
	}
	if v := ReadVocab(filepath.Join(testdata, "stories260k")); v[1] != "<s>" {
		t.Errorf("stories260k vocab[1] = %q", v[1])
	}
}

// tokenizerCases are invalid tokenizer files with the error each gives.
var tokenizerCases = []struct {
	file, data, want string
}{
	{TokenizerJSON, `{"model": {"type": "BPE", "vocab": {"a": 0}}`, "tokenizer.json: invalid JSON at line 1: unexpected end of JSON input"},
	{TokenizerJSON, "{\n\"model\": {,}}", "tokenizer.json: invalid JSON at line 2: invalid character ',' looking for beginning of object key string"},
	{TokenizerJSON, `[]`, "tokenizer.json: want a JSON object, got array"},
	{TokenizerJSON, `null`, "tokenizer.json: want a JSON object, got null"},
	{TokenizerJSON, `"tokenizer"`, "tokenizer.json: want a JSON object, got string"},
	{TokenizerJSON, `{}`, `tokenizer.json: no "model": a tokenizer.json describes its model`},
	{TokenizerJSON, `{"model": 5}`, `tokenizer.json: "model" is a number, want an object`},
	{TokenizerJSON, `{"model": {"type": 5}}`, `tokenizer.json: "model.type" is a number, want a string`},
	{TokenizerJSON, `{"model": {"vocab": "abc"}}`, `tokenizer.json: "model.vocab": a string, want an object of token ids or an array of [token, score] pairs`},
	{TokenizerJSON, `{"model": {"vocab": {"a": -1}}}`, `tokenizer.json: "model.vocab": token "a" has id -1, want a whole number in [0, 2^31)`},
	{TokenizerJSON, `{"model": {"vocab": {"a": 1.5}}}`, `tokenizer.json: "model.vocab": token "a" has id 1.5, want a whole number`},
	{TokenizerJSON, `{"model": {"vocab": {"a": "0"}}}`, `tokenizer.json: "model.vocab": token "a" has id "0", want a whole number`},
	{TokenizerJSON, `{"model": {"vocab": {"a": 1e300}}}`, `tokenizer.json: "model.vocab": token "a" has id 1e300, want a whole number`},
	{TokenizerJSON, `{"model": {"type": "Unigram", "vocab": [["a", 0], ["b"]]}}`, `tokenizer.json: "model.vocab": entry 1 is ["b"], want a [token, score] pair`},
	{TokenizerJSON, `{"model": {"type": "Unigram", "vocab": [[1, 0]]}}`, `tokenizer.json: "model.vocab": entry 0 is [1, 0], want a [token, score] pair`},
	{TokenizerJSON, `{"model": {}, "added_tokens": {}}`, `tokenizer.json: "added_tokens" is an object, want an array`},
	{TokenizerJSON, `{"model": {}, "added_tokens": [3]}`, `tokenizer.json: "added_tokens"[0]: a number, want an object with an id and a content`},
	{TokenizerJSON, `{"model": {}, "added_tokens": [{"id": "1", "content": "x"}]}`, `tokenizer.json: "added_tokens"[0]: "id" is "1", want a whole number`},
	{TokenizerJSON, `{"model": {}, "added_tokens": [{"id": 1}]}`, `tokenizer.json: "added_tokens"[0]: "content" is nothing, want a string`},
	{TokenizerJSON, `{"model": {}, "added_tokens": [{"id": 1, "content": "x", "special": "yes"}]}`, `tokenizer.json: "added_tokens"[0]: "special" is a string, want true or false`},
	{TokenizerConfig, `{"bos_token": 1}`, `tokenizer_config.json: "bos_token" is a number, want null, a string or an object with a content string`},
	{TokenizerConfig, `{"eos_token": {"content": 2}}`, `tokenizer_config.json: "eos_token" is an object, want null, a string or an object`},
	{TokenizerConfig, `{"added_tokens_decoder": []}`, `tokenizer_config.json: "added_tokens_decoder" is an array, want an object`},
	{TokenizerConfig, `{"added_tokens_decoder": {"x": {"content": "a"}}}`, `tokenizer_config.json: "added_tokens_decoder" key "x" is not a token id`},
	{TokenizerConfig, `{"added_tokens_decoder": {"-1": {"content": "a"}}}`, `tokenizer_config.json: "added_tokens_decoder" key "-1" is not a token id`},
	{TokenizerConfig, `{"added_tokens_decoder": {"01": {"content": "a"}}}`, `tokenizer_config.json: "added_tokens_decoder" key "01" is not a token id`},
	{TokenizerConfig, `{"added_tokens_decoder": {"1": "a"}}`, `tokenizer_config.json: "added_tokens_decoder"["1"] is a string, want an object with a content`},
	{TokenizerConfig, `{"added_tokens_decoder": {"1": {"content": null}}}`, `tokenizer_config.json: "added_tokens_decoder"["1"].content is null, want a string`},
	{TokenizerConfig, `{"additional_special_tokens": "x"}`, `tokenizer_config.json: "additional_special_tokens" is a string, want an array`},
	{TokenizerConfig, `{"additional_special_tokens": [null]}`, `tokenizer_config.json: "additional_special_tokens"[0] is null, want a string`},
	{TokenizerConfig, `{"model_max_length": "512"}`, `tokenizer_config.json: "model_max_length" is a string, want a number`},
	{TokenizerConfig, `{"bos_token": "<s>"} {}`, `tokenizer_config.json: invalid JSON`},
	{SpecialTokensMap, `{"pad_token": true}`, `special_tokens_map.json: "pad_token" is a boolean, want null, a string`},
	{SpecialTokensMap, `["<s>"]`, `special_tokens_map.json: want a JSON object, got array`},
}

// Invalid tokenizer files are refused with an error naming the file.
func TestInvalidTokenizerFiles(t *testing.T) {
	for _, tc := range tokenizerCases {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.data), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := CheckDir(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "tokens: "+filepath.Join(dir, tc.file)+": ") {
			t.Errorf("%s %s: error %v, want %q", tc.file, tc.data, err, tc.want)
		}
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, TokenizerJSON), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckDir(dir); err == nil || !strings.Contains(err.Error(), "tokenizer.json: a directory, not a file") {
		t.Errorf("a directory: %v", err)
	}
	dir = t.TempDir()
	if err := os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, TokenizerConfig)); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckDir(dir); err == nil || !strings.Contains(err.Error(), "tokenizer_config.json: a symbolic link to nothing") {
		t.Errorf("a dangling link: %v", err)
	}
}

// seedTokenizer adds the testdata tokenizer files and the invalid cases.
func seedTokenizer(f *testing.F, file string) {
	for _, m := range []string{"stories260k", "gpt2-random-realtok", "bert-random-realtok"} {
		if b, err := os.ReadFile(filepath.Join(testdata, m, file)); err == nil && len(b) < 100000 {
			f.Add(b)
		}
	}
	for _, tc := range tokenizerCases {
		f.Add([]byte(tc.data))
	}
}

// FuzzParseTokenizerJSON: no input panics; an error names the file; an
// accepted vocabulary has ids in [0, 2^31) and MaxID is its largest.
func FuzzParseTokenizerJSON(f *testing.F) {
	seedTokenizer(f, TokenizerJSON)
	f.Add([]byte(`{"model": {"type": "Unigram", "vocab": [["<unk>", 0], ["a", -1.5]]}, "added_tokens": [{"id": 0, "content": "<unk>", "special": true}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := ParseTokenizerJSON(data, "fuzz.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "tokens: fuzz.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		mx := -1
		for id := range tk.Vocab {
			if id < 0 || id >= maxID {
				t.Fatalf("id %d accepted", id)
			}
			mx = max(mx, id)
		}
		if mx != tk.MaxID {
			t.Fatalf("MaxID %d, largest id %d", tk.MaxID, mx)
		}
	})
}

// FuzzParseTokenizerConfig: no input panics; an error names the file.
func FuzzParseTokenizerConfig(f *testing.F) {
	seedTokenizer(f, TokenizerConfig)
	seedTokenizer(f, SpecialTokensMap)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func([]byte, string) (*Config, error){ParseTokenizerConfig, ParseSpecialTokensMap} {
			c, err := parse(data, "fuzz.json")
			if err != nil {
				if !strings.HasPrefix(err.Error(), "tokens: fuzz.json: ") {
					t.Fatalf("error does not name the file: %v", err)
				}
				continue
			}
			for _, a := range c.Added {
				if a.ID < 0 || a.ID >= maxID {
					t.Fatalf("id %d accepted", a.ID)
				}
			}
		}
	})
}

// FuzzParseVocabJSON: no input panics; an error names the file.
func FuzzParseVocabJSON(f *testing.F) {
	f.Add([]byte(`{"a": 0, "b": 1}`))
	f.Add([]byte(`{"a": -1}`))
	if b, err := os.ReadFile(filepath.Join(testdata, "gpt2-random-toyvocab", "vocab.json")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ParseVocabJSON(data, "fuzz.json"); err != nil && !strings.HasPrefix(err.Error(), "tokens: fuzz.json: ") {
			t.Fatalf("error does not name the file: %v", err)
		}
		ParseVocabTxt(data)
	})
}
