package probe

import (
	"encoding/json"
	"os"
	"testing"
)

type storiesRef struct {
	Prompts []struct {
		Text   string      `json:"text"`
		IDs    []int       `json:"ids"`
		Greedy []int       `json:"greedy_continuation"`
		Logits [][]float64 `json:"logits"`
	} `json:"prompts"`
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestStories260kAgainstRunC compares the logits at every position with
// llama2.c run.c's (float32) and reproduces its greedy continuations.
func TestStories260kAgainstRunC(t *testing.T) {
	var ref storiesRef
	readJSON(t, "../testdata/reference/stories260k-logits.json", &ref)
	g := tmpLlama(t, "../testdata/stories260k")
	for _, prec := range []Precision{F64, F32} {
		m, err := New(g, prec)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range ref.Prompts {
			r, err := m.Forward(p.IDs)
			if err != nil {
				t.Fatal(err)
			}
			d := maxAbsDiff(t, r.Logits, p.Logits)
			t.Logf("%s prompt %d (%d tokens): max abs diff %.3g", prec, i, len(p.IDs), d)
			if d > 1e-4 {
				t.Errorf("%s prompt %d: max abs diff %.3g > 1e-4", prec, i, d)
			}
			got, err := m.Greedy(p.IDs, len(p.Greedy))
			if err != nil {
				t.Fatal(err)
			}
			same := 0
			for same < len(got) && got[same] == p.Greedy[same] {
				same++
			}
			if same != len(p.Greedy) {
				t.Errorf("%s prompt %d: greedy continuation differs from run.c at step %d of %d:\n got  %v\n want %v",
					prec, i, same, len(p.Greedy), got, p.Greedy)
			}
		}
	}
}
