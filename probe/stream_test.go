package probe

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/graph/family"
	"github.com/grow-ml/grow/internal/reference"
)

// streamModels are graphs of every kind the streaming pass reads: the test
// checkpoints (GPT-2's transposed Conv1D views, BERT), a written synthetic
// model of every registered model type (fused and strided views), one
// rounded to BF16, and an in-memory one.
func streamModels(t *testing.T) map[string]*graph.Graph {
	out := map[string]*graph.Graph{}
	for _, name := range []string{"stories260k", "gpt2-random-realtok", "bert-random-realtok"} {
		out[name] = reference.OpenGraph(t, filepath.Join("..", "testdata", name))
	}
	for _, mt := range family.ModelTypes() {
		d, _ := family.Lookup(mt)
		k := 2
		if !d.Features.GQA {
			k = 4
		}
		s := reference.Spec{ModelType: mt, D: 32, H: 4, K: k, I: 48, V: 40, L: 2, P: 16, MLM: true, Bias: true, Seed: 7}
		g := reference.Synth(s)
		es, err := g.Entries("")
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), mt)
		if err := checkpoint.WriteDir(dir, es, checkpoint.WriteOptions{Config: g.OutputConfig()}); err != nil {
			t.Fatal(err)
		}
		out[mt] = reference.OpenGraph(t, dir)
		if mt == "llama" {
			out["llama-in-memory"] = g
			out["llama-bf16-rounded"] = graph.Round(out[mt], checkpoint.BF16)
		}
	}
	return out
}

// TestOpenEqualsNew: a streamed model (Open), reading its matrices in
// blocks of a few rows, computes the resident model's (New) logits and
// hidden states bit for bit, in both precisions, and so does a span of its
// blocks started from the resident model's hidden states.
func TestOpenEqualsNew(t *testing.T) {
	defer func(v int) { blockValues = v }(blockValues)
	blockValues = 100 // several blocks per matrix even in these small models
	seqs := [][]int{{1, 5, 9, 3, 7, 2}, {4, 4, 8}}
	for name, g := range streamModels(t) {
		for _, prec := range []Precision{F32, F64} {
			t.Run(fmt.Sprintf("%s/%s", name, prec), func(t *testing.T) {
				res, err := New(g, prec)
				if err != nil {
					t.Fatal(err)
				}
				str, err := Open(g, prec)
				if err != nil {
					t.Fatal(err)
				}
				if !str.Streamed() || res.Streamed() {
					t.Fatalf("Streamed: Open %v, New %v", str.Streamed(), res.Streamed())
				}
				want, err := res.ForwardBatch(seqs)
				if err != nil {
					t.Fatal(err)
				}
				got, err := str.ForwardBatch(seqs)
				if err != nil {
					t.Fatal(err)
				}
				for b := range seqs {
					sameBits(t, fmt.Sprintf("sequence %d logits", b), got[b].Logits, want[b].Logits)
					for j := range want[b].Hidden {
						sameBits(t, fmt.Sprintf("sequence %d hidden state %d", b, j), got[b].Hidden[j], want[b].Hidden[j])
					}
				}
				// The last block alone, from the resident pass's hidden states.
				L := res.arch.L
				start := make([][][]float64, len(seqs))
				for b := range seqs {
					start[b] = want[b].Hidden[L-1]
				}
				part, err := str.runSpan(seqs, nil, true, span{from: L - 1, to: L, start: start, head: true})
				if err != nil {
					t.Fatal(err)
				}
				for b := range seqs {
					sameBits(t, fmt.Sprintf("span: sequence %d logits", b), part[b].Logits, want[b].Logits)
					sameBits(t, fmt.Sprintf("span: sequence %d hidden state %d", b, L), part[b].Hidden[L], want[b].Hidden[L])
					if L > 1 && part[b].Hidden[0] != nil {
						t.Errorf("span: sequence %d: hidden state 0 outside the span is set", b)
					}
				}
			})
		}
	}
}

// sameBits fails unless two tables hold the same float64 values bit for bit.
func sameBits(t *testing.T, what string, got, want [][]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("%s: row %d has %d values, want %d", what, i, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			if math.Float64bits(got[i][j]) != math.Float64bits(want[i][j]) {
				t.Fatalf("%s: [%d][%d] = %v, want %v", what, i, j, got[i][j], want[i][j])
			}
		}
	}
}

// TestOpenReadErrors: a streamed model reports a non-finite weight of a
// block when the pass reads it, naming the tensor and the index, as New does
// when it decodes it.
func TestOpenReadErrors(t *testing.T) {
	defer func(v int) { blockValues = v }(blockValues)
	blockValues = 64
	g := reference.Synth(reference.Spec{Family: graph.FamilyLlama, D: 16, L: 2, H: 2, I: 24, V: 30, F32: true, Seed: 1})
	w, err := g.Layers[1].Up.W.Float32()
	if err != nil {
		t.Fatal(err)
	}
	w[3*16+5] = float32(math.NaN())
	_, errNew := New(g, F64)
	m, err := Open(g, F64)
	if err != nil {
		t.Fatalf("Open read a matrix: %v", err)
	}
	_, errOpen := m.Forward([]int{1, 2, 3})
	for what, err := range map[string]error{"New": errNew, "Open": errOpen} {
		nf, ok := err.(*NonFiniteError)
		if !ok || nf.Tensor != "layers.1.mlp.gate_up[1].weight" || fmt.Sprint(nf.Index) != "[3 5]" {
			t.Errorf("%s: %v (%#v), want the NaN of layers.1.mlp.gate_up[1].weight at [3 5]", what, err, nf)
		}
	}
}
