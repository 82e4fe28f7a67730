package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grow-ml/grow/tokens/tokeneval"
)

// grow tokens eval on the first stories of the corpus: the source's bits
// per byte equal the sum of its next-token NLLs; fvt rows beat mean rows on
// text with the new tokens; mean rows take almost no mass from old tokens.
func TestTokensEval(t *testing.T) {
	src := testModel("stories260k")
	b, err := os.ReadFile(testModel(filepath.Join("reference", "stories-corpus.txt")))
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(b), "\n\n")[:12]
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.txt")
	if err := os.WriteFile(corpus, []byte(strings.Join(docs, "\n\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reps := map[string]tokeneval.Report{}
	for _, m := range []string{"fvt", "mean"} {
		out := filepath.Join(dir, m)
		if _, stderr, err := growExec(t, "tokens", "add", src, "-o", out, "--token", "went", "--token", "wanted", "--token", "park",
			"--token", "girl", "--init-input", m, "--quiet"); err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		text, _, err := growExec(t, "tokens", "eval", src, out, "--text", corpus, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var r tokeneval.Report
		if err := json.Unmarshal([]byte(text), &r); err != nil {
			t.Fatal(err)
		}
		reps[m] = r
	}
	f, m := reps["fvt"], reps["mean"]
	if f.Documents != 12 || f.Source.BitsPerByte < 0.4 || f.Source.BitsPerByte > 0.9 || f.Source != m.Source {
		t.Errorf("source: %+v vs %+v", f.Source, m.Source)
	}
	if got := f.Source.NLL / (math.Ln2 * float64(f.Bytes)); math.Abs(got-f.Source.BitsPerByte) > 1e-12 {
		t.Errorf("bits per byte %g, NLL says %g", f.Source.BitsPerByte, got)
	}
	if f.NewUsed == 0 || f.Extended.Tokens >= f.Source.Tokens || f.Unreachable != 0 || f.VocabNew < 4 {
		t.Errorf("new tokens: %+v", f)
	}
	if f.Extended.BitsPerByte >= m.Extended.BitsPerByte {
		t.Errorf("fvt %g is not below mean %g", f.Extended.BitsPerByte, m.Extended.BitsPerByte)
	}
	if m.MeanNewMass > 1e-4 || m.MeanKL > 1e-4 || m.MaxKL > m.HewittBoundKL || f.MeanKL <= m.MeanKL {
		t.Errorf("KL on old tokens: mean rows %g (max %g, bound %g), fvt %g", m.MeanKL, m.MaxKL, m.HewittBoundKL, f.MeanKL)
	}
	text, _, err := growExec(t, "tokens", "eval", src, filepath.Join(dir, "fvt"), "--text", corpus)
	if err != nil || !strings.Contains(text, "bits per byte") || !strings.Contains(text, "0 unreachable") {
		t.Errorf("text report: %v\n%s", err, text)
	}
	if _, _, err := growExec(t, "tokens", "eval", testModel("bert-random-realtok"), testModel("bert-random-realtok"), "--text", corpus); err == nil ||
		!strings.Contains(err.Error(), "not a causal language model") {
		t.Errorf("BERT: %v", err)
	}
}
