package probe

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/reference"
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
	g := reference.OpenGraph(t, "../testdata/stories260k")
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

type gpt2Ref struct {
	Sequences []struct {
		Text      string      `json:"text"`
		IDs       []int       `json:"ids"`
		LogitIDs  []int       `json:"logit_ids"`
		Logits    [][]float64 `json:"logits"`
		Argmax    []int       `json:"argmax"`
		LogSumExp []float64   `json:"logsumexp"`
	} `json:"sequences"`
}

// TestGPT2AgainstLLMC compares gpt2-random-realtok's logits with llm.c's
// (train_gpt2.c, float32): the stored vocabulary subset within 1e-5 at every
// position, the argmax over the full vocabulary, and the full log-sum-exp.
func TestGPT2AgainstLLMC(t *testing.T) {
	var ref gpt2Ref
	readJSON(t, "../testdata/reference/gpt2-random-realtok-logits.json", &ref)
	g := reference.OpenGraph(t, "../testdata/gpt2-random-realtok")
	for _, prec := range []Precision{F64, F32} {
		m, err := New(g, prec)
		if err != nil {
			t.Fatal(err)
		}
		seqs := make([][]int, len(ref.Sequences))
		for i, s := range ref.Sequences {
			seqs[i] = s.IDs
		}
		rs, err := m.ForwardBatch(seqs)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range ref.Sequences {
			worst, worstLSE := 0.0, 0.0
			for p, row := range rs[i].Logits {
				if len(row) != 50257 {
					t.Fatalf("%d logits, want 50257", len(row))
				}
				for k, id := range s.LogitIDs {
					worst = math.Max(worst, math.Abs(row[id]-s.Logits[p][k]))
				}
				if a := argmax(row); a != s.Argmax[p] {
					t.Errorf("%s %q position %d: argmax %d, llm.c %d", prec, s.Text, p, a, s.Argmax[p])
				}
				worstLSE = math.Max(worstLSE, math.Abs(logSumExp(row)-s.LogSumExp[p]))
			}
			t.Logf("%s %q: max abs diff %.3g over %d ids, log-sum-exp diff %.3g", prec, s.Text, worst, len(s.LogitIDs), worstLSE)
			if worst > 1e-5 || worstLSE > 1e-5 {
				t.Errorf("%s %q: max abs diff %.3g, log-sum-exp diff %.3g (want ≤ 1e-5)", prec, s.Text, worst, worstLSE)
			}
		}
	}
}

// TestBERTCheckpointPrecisions runs the bert-random-realtok checkpoint (MLM head,
// tied decoder, 30522 tokens) in both precisions: they agree, and padding with
// the attention mask changes nothing.
func TestBERTCheckpointPrecisions(t *testing.T) {
	g := reference.OpenGraph(t, "../testdata/bert-random-realtok")
	ids := []int{101, 7592, 1010, 2026, 3899, 2003, 10140, 1012, 102}
	m64, err := New(g, F64)
	if err != nil {
		t.Fatal(err)
	}
	m32, err := New(g, F32)
	if err != nil {
		t.Fatal(err)
	}
	if m64.OutputWidth() != 30522 {
		t.Fatalf("output width %d, want the vocabulary 30522 (MLM head)", m64.OutputWidth())
	}
	r64, err := m64.Forward(ids)
	if err != nil {
		t.Fatal(err)
	}
	r32, err := m32.Forward(ids)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, r64.Logits, r32.Logits); d > 1e-4 || d == 0 {
		t.Errorf("f32 vs f64: %.3g (want 0 < diff ≤ 1e-4)", d)
	}
	want := reference.Forward(t, g, ids, nil).Logits
	if d := maxAbsDiff(t, r64.Logits, want); d > 1e-10 {
		t.Errorf("f64 vs the naive forward: %.3g", d)
	}
	padded := append(append([]int(nil), ids...), 0, 0, 0)
	mask := make([]int, len(padded))
	for i := range ids {
		mask[i] = 1
	}
	rp, err := m64.ForwardBatchMasked([][]int{padded}, [][]int{mask})
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, r64.Logits, rp[0].Logits[:len(ids)]); d > 1e-12 {
		t.Errorf("padding with the mask changes the logits by %.3g", d)
	}
}

// TestCheckpointDisagreementRefused: a config that disagrees with the tensors
// (a wrong head count, a missing tensor) is refused with an error that says so,
// before any arithmetic.
func TestCheckpointDisagreementRefused(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(cfg map[string]any)
		drop  string
		wants []string
	}{
		{"heads", func(c map[string]any) { c["num_attention_heads"] = 16 }, "", []string{"q_proj", "num_attention_heads"}},
		{"kv heads", func(c map[string]any) { c["num_key_value_heads"] = 8 }, "", []string{"k_proj"}},
		{"missing tensor", nil, "model.layers.2.mlp.up_proj.weight", []string{"model.layers.2.mlp.up_proj.weight"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyModel(t, "../testdata/stories260k", c.edit, c.drop)
			err := openAndNew(dir)
			if err == nil {
				t.Fatal("the checkpoint was accepted")
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func openAndNew(dir string) error {
	c, err := checkpoint.Open(dir)
	if err != nil {
		return err
	}
	defer c.Close()
	g, err := graph.FromCheckpoint(c)
	if err != nil {
		return err
	}
	_, err = New(g, F64)
	return err
}

// copyModel copies a model directory with its config edited and one tensor
// left out (rewritten with checkpoint.WriteSafetensors).
func copyModel(t *testing.T, src string, edit func(map[string]any), drop string) string {
	t.Helper()
	dir := t.TempDir()
	var cfg map[string]any
	readJSON(t, filepath.Join(src, "config.json"), &cfg)
	if edit != nil {
		edit(cfg)
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := checkpoint.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var entries []checkpoint.Entry
	for _, x := range c.Tensors {
		if x.Name != drop {
			entries = append(entries, checkpoint.CopyEntry(x))
		}
	}
	f, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := checkpoint.WriteSafetensors(f, entries, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	return dir
}
