package probe

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/reference"
)

// benchForward measures prefill throughput: seqs sequences of n tokens per
// forward pass, logits only (SkipHidden), reported as tokens/s.
func benchForward(b *testing.B, g *graph.Graph, prec Precision, seqs, n int) {
	m, err := New(g, prec)
	if err != nil {
		b.Fatal(err)
	}
	m.SkipHidden = true
	rng := rand.New(rand.NewPCG(1, 2))
	batch := make([][]int, seqs)
	for i := range batch {
		batch[i] = make([]int, n)
		for t := range batch[i] {
			batch[i][t] = rng.IntN(g.Vocab)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.ForwardBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*seqs*n)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkStories260k: the trained 260K-parameter Llama of testdata.
func BenchmarkStories260k(b *testing.B) {
	g := reference.OpenGraph(b, "../testdata/stories260k")
	for _, shape := range [][2]int{{1, 256}, {8, 64}, {1, 32}} {
		for _, prec := range []Precision{F32, F64} {
			b.Run(fmt.Sprintf("%s/%dx%d", prec, shape[0], shape[1]), func(b *testing.B) {
				benchForward(b, g, prec, shape[0], shape[1])
			})
		}
	}
}

// BenchmarkLlama100M: a synthetic Llama of about 100M parameters (D 768, 12
// layers, 12 heads, 4 kv heads, FFN 2048, vocabulary 32000, tied), random weights.
func BenchmarkLlama100M(b *testing.B) {
	g := reference.Synth(reference.Spec{Family: graph.FamilyLlama, D: 768, L: 12, H: 12, K: 4, I: 2048, V: 32000, Tied: true,
		Seed: 1, F32: true, Std: 0.02})
	for _, prec := range []Precision{F32, F64} {
		b.Run(fmt.Sprintf("%s/2x64", prec), func(b *testing.B) {
			benchForward(b, g, prec, 2, 64)
		})
	}
}
