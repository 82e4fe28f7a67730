package tokens

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// referenceCases reads testdata/reference/tokenization.json: texts with the
// ids Hugging Face's tokenizers (tokenizers.js, checked with the Rust
// library) give them with the three testdata tokenizers.
func referenceCases(t *testing.T) (cases []struct {
	Text   string              `json:"text"`
	IDs    map[string][]int    `json:"ids"`
	Tokens map[string][]string `json:"tokens"`
	SP     []int               `json:"sentencepiece_ids"`
}) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, "reference", "tokenization.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases *[]struct {
			Text   string              `json:"text"`
			IDs    map[string][]int    `json:"ids"`
			Tokens map[string][]string `json:"tokens"`
			SP     []int               `json:"sentencepiece_ids"`
		} `json:"cases"`
	}
	doc.Cases = &cases
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(cases) != 40 {
		t.Fatalf("%d cases, want 40", len(cases))
	}
	return cases
}

var realTokenizers = []string{"gpt2-random-realtok", "bert-random-realtok", "stories260k"}

func loadTestEncoder(t testing.TB, model string) *Encoder {
	t.Helper()
	e, err := Load(filepath.Join(testdata, model))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Every reference tokenization is reproduced, ids and token strings, for
// the three tokenizers.
func TestReferenceTokenizations(t *testing.T) {
	cases := referenceCases(t)
	for _, model := range realTokenizers {
		e := loadTestEncoder(t, model)
		for _, c := range cases {
			ts := e.Encode(c.Text, true)
			ids := make([]int, len(ts))
			pieces := make([]string, len(ts))
			for i, tk := range ts {
				ids[i], pieces[i] = tk.ID, tk.Piece
			}
			if !slices.Equal(ids, c.IDs[model]) {
				t.Errorf("%s %q:\n got %v\nwant %v", model, c.Text, ids, c.IDs[model])
				continue
			}
			if !slices.Equal(pieces, c.Tokens[model]) {
				t.Errorf("%s %q: pieces\n got %q\nwant %q", model, c.Text, pieces, c.Tokens[model])
			}
			// SentencePiece itself agrees, but for the literal special-token
			// strings, which it encodes as characters.
			if model == "stories260k" && c.Text != "<s> [CLS] <|endoftext|> </s>" && !slices.Equal(ids, c.SP) {
				t.Errorf("stories260k %q: %v, SentencePiece %v", c.Text, ids, c.SP)
			}
		}
	}
}

// An unchanged tokenizer.json is written back byte for byte.
func TestRoundTripUnchanged(t *testing.T) {
	for _, model := range realTokenizers {
		b, err := os.ReadFile(filepath.Join(testdata, model, TokenizerJSON))
		if err != nil {
			t.Fatal(err)
		}
		e, err := ParseEncoder(b, model)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := e.Bytes(); err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s: tokenizer.json changed on a round trip", model)
		}
	}
}

// Decoding gives the text back: exactly for byte-level BPE; for the
// SentencePiece-style tokenizer up to the whitespace its normalizer removes
// or collapses; for BERT, as the tokenizers library decodes (lower case, no
// accents, spaces before punctuation cleaned up).
func TestDecode(t *testing.T) {
	cases := referenceCases(t)
	gpt2 := loadTestEncoder(t, "gpt2-random-realtok")
	sp := loadTestEncoder(t, "stories260k")
	for _, c := range cases {
		if got := gpt2.Decode(gpt2.IDs(c.Text, true), false); got != c.Text {
			t.Errorf("gpt2 %q decodes as %q", c.Text, got)
		}
		if strings.Contains(c.Text, "<") {
			continue
		}
		want := strings.Join(strings.Fields(strings.ReplaceAll(c.Text, "\n", " ")), " ")
		got := sp.Decode(sp.IDs(c.Text, true), true)
		if norm := strings.Join(strings.Fields(strings.ReplaceAll(got, "\n", " ")), " "); norm != want {
			t.Errorf("stories260k %q decodes as %q", c.Text, got)
		}
	}
	bert := loadTestEncoder(t, "bert-random-realtok")
	for text, want := range map[string]string{
		"Hello, world! How are you?": "hello, world! how are you?",
		"naïve résumé":               "naive resume",
		"don't won't I'm you're":     "don ' t won ' t i ' m you ' re", // as the tokenizers library decodes
	} {
		if got := bert.Decode(bert.IDs(text, true), true); got != want {
			t.Errorf("bert %q decodes as %q, want %q", text, got, want)
		}
	}
}
