package tokens

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseEncoder: no tokenizer.json panics the parser or the encoder; an
// error names the file; an accepted file is written back byte for byte and
// encodes a text into ids it can name.
func FuzzParseEncoder(f *testing.F) {
	for _, m := range realTokenizers {
		b, err := os.ReadFile(filepath.Join(testdata, m, TokenizerJSON))
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 60000 {
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}`,
		`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]], "byte_fallback": true, "unk_token": "a", "fuse_unk": true}, "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}}`,
		`{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1, "##b": 2}}, "normalizer": {"type": "BertNormalizer"}, "pre_tokenizer": {"type": "BertPreTokenizer"}, "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 0], "cls": ["[CLS]", 0]}}`,
		`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "` + strings.ReplaceAll(Llama3Pattern, `\`, `\\`) + `"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]}, "added_tokens": [{"id": 1, "content": "<x>", "special": true, "lstrip": true, "rstrip": true, "single_word": true}]}`,
		`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a a"]}}`,
		`{"model": {"type": "Unigram", "vocab": [["a", 0]]}}`,
		`{"model": {"type": "BPE", "vocab": {"a": 0}}, "normalizer": {"type": "Replace", "pattern": {"Regex": "(?!a)"}, "content": ""}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEncoder(data, "fuzz.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "tokens: fuzz.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if b, err := e.Bytes(); err != nil || !bytes.Equal(b, data) {
			t.Fatalf("written back differently (%v)", err)
		}
		for _, text := range []string{"Hello world", " a\tb\n\nc  ", "<x> ab ab", "日本語 ü", "\xff\x00a"} {
			for _, tk := range e.Encode(text, true) {
				if _, ok := e.TokenString(tk.ID); !ok && !e.isPostToken(tk.ID) {
					t.Fatalf("%q: id %d has no token", text, tk.ID)
				}
			}
			e.Decode(e.IDs(text, true), true)
		}
	})
}

// isPostToken reports whether id is one the post-processor adds (its ids
// need not be in the vocabulary).
func (e *Encoder) isPostToken(id int) bool {
	var ts []Token
	if e.post != nil {
		ts = e.post.process(nil)
	}
	for _, t := range ts {
		if t.ID == id {
			return true
		}
	}
	return false
}

// FuzzEncode: any text encodes with the three real tokenizers without a
// panic, into ids of their vocabularies; byte-level BPE decodes it back
// exactly (valid UTF-8), and the SentencePiece-style and WordPiece
// tokenizers decode it without a panic.
func FuzzEncode(f *testing.F) {
	cases := referenceCasesF(f)
	for _, c := range cases {
		f.Add(c)
	}
	encs := map[string]*Encoder{}
	for _, m := range realTokenizers {
		encs[m] = loadTestEncoder(f, m)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for m, e := range encs {
			ids := e.IDs(text, true)
			for _, id := range ids {
				if _, ok := e.TokenString(id); !ok {
					t.Fatalf("%s %q: id %d", m, text, id)
				}
			}
			got := e.Decode(ids, false)
			if m == "gpt2-random-realtok" && utf8.ValidString(text) && got != text {
				t.Fatalf("gpt2 %q decodes as %q", text, got)
			}
		}
	})
}

// referenceCasesF returns the texts of tokenization.json.
func referenceCasesF(f *testing.F) []string {
	b, err := os.ReadFile(filepath.Join(testdata, "reference", "tokenization.json"))
	if err != nil {
		f.Fatal(err)
	}
	var out []string
	for _, part := range strings.Split(string(b), `"text": `)[1:] {
		if end := strings.Index(part, `",`); end > 0 {
			out = append(out, part[1:end])
		}
	}
	return out
}

// FuzzParseRecipe: no recipe panics; an error names the file; an accepted
// recipe has tokens with texts.
func FuzzParseRecipe(f *testing.F) {
	for _, s := range []string{
		"tokens:\n  - text: went\n",
		"seed: 3\npad_to_multiple_of: 64\ndefaults:\n  mode: auto\n  init: {input: fvt, output: mean}\ntokens:\n  - text: \"<|x|>\"\n    special: true\n    role: eos_extra\n    init: \"copy:</s>\"\n",
		"tokens: []\n", "", "tokens:\n  - mode: vocab\n", "{\"tokens\": [{\"text\": \"a\", \"init\": {\"input\": \"fvt:last\"}}]}",
		"tokens:\n  - text: a\n    init: {sideways: zero}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRecipe(data, "fuzz.yaml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml: ") && !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(r.Requests()) == 0 {
			t.Fatal("an accepted recipe without tokens")
		}
	})
}
