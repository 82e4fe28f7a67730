package probe

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
)

// spec describes a synthetic model for tests and benchmarks.
type spec struct {
	family              graph.Family
	D, L, H, K, d, I, V int
	P                   int
	tied, bias, mlm     bool
	act                 string
	theta               float64
	scale               float64 // weight scale (default 0.1)
	seed                uint64
	f32                 bool // store weights as float32 Dense
	ropeScaling         map[string]any
}

// synth builds a graph with random weights from s.
func synth(s spec) *graph.Graph {
	rng := rand.New(rand.NewPCG(s.seed, 99))
	if s.scale == 0 {
		s.scale = 0.1
	}
	if s.K == 0 {
		s.K = s.H
	}
	if s.d == 0 {
		s.d = s.D / s.H
	}
	if s.P == 0 {
		s.P = 128
	}
	mat := func(scale float64, shape ...int) graph.Tensor {
		n := 1
		for _, x := range shape {
			n *= x
		}
		if s.f32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(rng.NormFloat64() * scale)
			}
			return graph.NewDense32(v, checkpoint.F32, shape...)
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64() * scale
		}
		return graph.NewDense64(v, checkpoint.F64, shape...)
	}
	gain := func(n int) graph.Tensor {
		if s.f32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(1 + 0.1*rng.NormFloat64())
			}
			return graph.NewDense32(v, checkpoint.F32, n)
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = 1 + 0.1*rng.NormFloat64()
		}
		return graph.NewDense64(v, checkpoint.F64, n)
	}
	g := &graph.Graph{Family: s.family, Dims: graph.Dims{Hidden: s.D, Layers: s.L, Heads: s.H, KVHeads: s.K,
		HeadDim: s.d, FFN: s.I, Vocab: s.V, Positions: s.P}, Act: s.act, Tied: s.tied}
	ln := s.family != graph.FamilyLlama
	normOf := func() graph.Norm {
		if ln {
			return graph.Norm{W: gain(s.D), B: mat(0.1, s.D)}
		}
		return graph.Norm{W: gain(s.D)}
	}
	lin := func(out, in int, bias bool) graph.Linear {
		l := graph.Linear{W: mat(s.scale, out, in)}
		if bias {
			l.B = mat(0.1, out)
		}
		return l
	}
	g.Embed = mat(1, s.V, s.D)
	switch s.family {
	case graph.FamilyLlama:
		g.NormKind, g.Eps, g.RopeTheta, g.RopeScaling = graph.RMSNorm, 1e-5, s.theta, s.ropeScaling
		if g.RopeTheta == 0 {
			g.RopeTheta = 10000
		}
		if g.Act == "" {
			g.Act = "silu"
		}
		g.Positions = 2048
	case graph.FamilyGPT2:
		g.NormKind, g.Eps = graph.LayerNorm, 1e-5
		g.Pos = mat(0.3, s.P, s.D)
		if g.Act == "" {
			g.Act = "gelu_new"
		}
	case graph.FamilyBERT:
		g.NormKind, g.Eps, g.PostLN = graph.LayerNorm, 1e-12, true
		g.Pos = mat(0.3, s.P, s.D)
		g.TokenType = mat(0.3, 2, s.D)
		g.EmbedNorm = normOf()
		if g.Act == "" {
			g.Act = "gelu"
		}
	}
	bias := s.bias || s.family != graph.FamilyLlama
	for range s.L {
		ly := graph.Layer{AttnNorm: normOf(), MLPNorm: normOf(),
			Q: lin(s.H*s.d, s.D, bias), K: lin(s.K*s.d, s.D, bias), V: lin(s.K*s.d, s.D, bias),
			O: lin(s.D, s.H*s.d, s.family != graph.FamilyLlama), Up: lin(s.I, s.D, s.family != graph.FamilyLlama),
			Down: lin(s.D, s.I, s.family != graph.FamilyLlama)}
		if s.family == graph.FamilyLlama {
			ly.Gate = lin(s.I, s.D, false)
		}
		g.Layers = append(g.Layers, ly)
	}
	if s.family != graph.FamilyBERT {
		g.FinalNorm = normOf()
		if !s.tied {
			g.Head = mat(s.scale, s.V, s.D)
		}
	} else {
		g.Tied = true
		if s.mlm {
			g.MLMTransform = lin(s.D, s.D, true)
			g.MLMNorm = normOf()
			g.HeadBias = mat(0.1, s.V)
		}
	}
	return g
}

// maxAbsDiff is max |a - b| over two logits tables of the same shape.
func maxAbsDiff(t *testing.T, a, b [][]float64) float64 {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d rows vs %d", len(a), len(b))
	}
	m := 0.0
	for i := range a {
		if len(a[i]) != len(b[i]) {
			t.Fatalf("row %d: %d vs %d columns", i, len(a[i]), len(b[i]))
		}
		for j := range a[i] {
			d := math.Abs(a[i][j] - b[i][j])
			if math.IsNaN(d) {
				return math.Inf(1)
			}
			m = math.Max(m, d)
		}
	}
	return m
}

// openGraph opens a model directory of testdata as a graph.
func openGraph(t testing.TB, dir string) *graph.Graph {
	t.Helper()
	c, err := checkpoint.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	g, err := graph.FromCheckpoint(c)
	if err != nil {
		t.Fatal(err)
	}
	if g == nil {
		t.Skip("graph.FromCheckpoint is not implemented yet")
	}
	return g
}
