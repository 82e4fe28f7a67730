package probe

import (
	"math"
	"testing"

	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/reference"
)

// TestObserve: the activations a forward pass reports are the ones the block
// computes with. For a pre-LN LLaMA block without biases, with s the stream
// after the attention: AttnInput = norm₁(h_{l-1}), Heads·Oᵀ = s − h_{l-1},
// MLPInput = norm₂(s) and Units·Downᵀ = h_l − s.
func TestObserve(t *testing.T) {
	g := reference.Synth(reference.Spec{Family: graph.FamilyLlama, D: 16, H: 4, K: 2, I: 24, V: 20, L: 2, Seed: 4})
	m, err := New(g, F64)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		l int
		s Site
	}
	seen := map[key][]float64{}
	m.Observe = func(l int, s Site, x []float64, rows, width int) {
		if len(x) != rows*width {
			t.Errorf("layer %d site %d: %d values for %d×%d", l, s, len(x), rows, width)
		}
		seen[key{l, s}] = x
	}
	ids := []int{1, 7, 3, 19, 0}
	r, err := m.Forward(ids)
	if err != nil {
		t.Fatal(err)
	}
	D, N := g.Hidden, len(ids)
	rmsNorm := func(x, w []float64) []float64 {
		out := make([]float64, len(x))
		for n := 0; n < N; n++ {
			ss := 0.0
			for _, v := range x[n*D : (n+1)*D] {
				ss += v * v
			}
			inv := 1 / math.Sqrt(ss/float64(D)+g.Eps)
			for i := 0; i < D; i++ {
				out[n*D+i] = w[i] * x[n*D+i] * inv
			}
		}
		return out
	}
	matmul := func(x []float64, w graph.Tensor) []float64 { // x [N, in] · Wᵀ
		wv, sh := reference.Values(t, w), w.Shape()
		out := make([]float64, N*sh[0])
		for n := 0; n < N; n++ {
			for o := 0; o < sh[0]; o++ {
				for i := 0; i < sh[1]; i++ {
					out[n*sh[0]+o] += x[n*sh[1]+i] * wv[o*sh[1]+i]
				}
			}
		}
		return out
	}
	flat := func(rows [][]float64) []float64 {
		var out []float64
		for _, r := range rows {
			out = append(out, r...)
		}
		return out
	}
	near := func(what string, a, b []float64) {
		t.Helper()
		if len(a) != len(b) {
			t.Fatalf("%s: %d vs %d values", what, len(a), len(b))
		}
		for i := range a {
			if math.Abs(a[i]-b[i]) > 1e-12*math.Max(1, math.Abs(b[i])) {
				t.Fatalf("%s: entry %d is %g, want %g", what, i, a[i], b[i])
			}
		}
	}
	for l, ly := range g.Layers {
		prev, next := flat(r.Hidden[l]), flat(r.Hidden[l+1])
		near("attention input", seen[key{l, AttnInput}], rmsNorm(prev, reference.Values(t, ly.AttnNorm.W)))
		s := matmul(seen[key{l, Heads}], ly.O.W)
		for i := range s {
			s[i] += prev[i]
		}
		near("MLP input", seen[key{l, MLPInput}], rmsNorm(s, reference.Values(t, ly.MLPNorm.W)))
		out := matmul(seen[key{l, Units}], ly.Down.W)
		for i := range out {
			out[i] += s[i]
		}
		near("block output", out, next)
	}
}
