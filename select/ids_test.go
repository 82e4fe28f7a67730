package selection

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/tokens"
)

// TestTextSequences: the 200 stories of the reference corpus, tokenized by
// grow with stories260k's tokenizer, are the id sequences Hugging Face's
// tokenizers wrote into stories-calib.ids and stories-eval.ids.
func TestTextSequences(t *testing.T) {
	enc, err := tokens.Load("../testdata/stories260k")
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("../testdata/reference/stories-corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := TextSequences(enc, text, "corpus")
	if err != nil {
		t.Fatal(err)
	}
	var want [][]int
	for _, f := range []string{"testdata/stories-calib.ids", "testdata/stories-eval.ids"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seqs, err := ParseIDs(b, f)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, seqs...)
	}
	if len(got) != len(want) {
		t.Fatalf("%d sequences, want %d", len(got), len(want))
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("story %d: grow's ids differ from Hugging Face's tokenizers:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
	crlf := strings.ReplaceAll(string(text), "\n", "\r\n")
	again, err := TextSequences(enc, []byte(crlf), "corpus")
	if err != nil || !slices.EqualFunc(again, want, slices.Equal) {
		t.Errorf("CRLF line ends change the sequences (error %v)", err)
	}
	for _, empty := range []string{"", "\n\n \n\n"} {
		if _, err := TextSequences(enc, []byte(empty), "empty.txt"); err == nil || !strings.Contains(err.Error(), "empty.txt: no text") {
			t.Errorf("%q: error %v", empty, err)
		}
	}
}
