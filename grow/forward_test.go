package grow

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
)

// This file holds a small float64 reference forward pass, written from
// operators.md §0.3 independently of package probe, so that the operators can
// be tested on hand-built graphs of every family.

func mustF64(t testing.TB, x graph.Tensor) []float64 {
	t.Helper()
	v, err := x.Float64()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type fwd struct {
	t testing.TB
	g *graph.Graph
}

func (f fwd) linear(l graph.Linear, x []float64) []float64 {
	w := mustF64(f.t, l.W)
	sh := l.W.Shape()
	out := make([]float64, sh[0])
	for o := range out {
		s := 0.0
		row := w[o*sh[1] : (o+1)*sh[1]]
		for i, v := range row {
			s += v * x[i]
		}
		out[o] = s
	}
	if l.B != nil {
		for i, b := range mustF64(f.t, l.B) {
			out[i] += b
		}
	}
	return out
}

func (f fwd) norm(n graph.Norm, x []float64) []float64 {
	w := mustF64(f.t, n.W)
	out := make([]float64, len(x))
	D := float64(len(x))
	if f.g.NormKind == graph.RMSNorm {
		ms := 0.0
		for _, v := range x {
			ms += v * v
		}
		r := 1 / math.Sqrt(ms/D+f.g.Eps)
		for i, v := range x {
			out[i] = v * r * w[i]
		}
		return out
	}
	mu := 0.0
	for _, v := range x {
		mu += v
	}
	mu /= D
	va := 0.0
	for _, v := range x {
		va += (v - mu) * (v - mu)
	}
	va /= D
	r := 1 / math.Sqrt(va+f.g.Eps)
	var b []float64
	if n.B != nil {
		b = mustF64(f.t, n.B)
	}
	for i, v := range x {
		out[i] = (v - mu) * r * w[i]
		if b != nil {
			out[i] += b[i]
		}
	}
	return out
}

func (f fwd) act(x float64) float64 {
	switch f.g.Act {
	case "silu":
		return x / (1 + math.Exp(-x))
	case "gelu":
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	default:
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}
}

func (f fwd) rope(v []float64, pos, d int) {
	if f.g.RopeTheta == 0 {
		return
	}
	for h := 0; h < len(v)/d; h++ {
		x := v[h*d : (h+1)*d]
		for j := 0; j < d/2; j++ {
			a := float64(pos) * math.Pow(f.g.RopeTheta, -2*float64(j)/float64(d))
			c, s := math.Cos(a), math.Sin(a)
			x0, x1 := x[j], x[j+d/2]
			x[j], x[j+d/2] = x0*c-x1*s, x1*c+x0*s
		}
	}
}

// run returns the hidden states (after embeddings and each block) and logits.
func (f fwd) run(ids []int) (hidden [][][]float64, logits [][]float64) {
	g := f.g
	D, d := g.Hidden, g.HeadDim
	T := len(ids)
	E := mustF64(f.t, g.Embed)
	h := make([][]float64, T)
	for t, id := range ids {
		h[t] = append([]float64(nil), E[id*D:(id+1)*D]...)
		if g.Pos != nil {
			p := mustF64(f.t, g.Pos)
			for i := range h[t] {
				h[t][i] += p[t*D+i]
			}
		}
		if g.TokenType != nil {
			p := mustF64(f.t, g.TokenType)
			for i := range h[t] {
				h[t][i] += p[i]
			}
		}
		if g.EmbedNorm.W != nil {
			h[t] = f.norm(g.EmbedNorm, h[t])
		}
	}
	snap := func() {
		c := make([][]float64, T)
		for t := range h {
			c[t] = append([]float64(nil), h[t]...)
		}
		hidden = append(hidden, c)
	}
	snap()
	causal := !g.PostLN
	for _, L := range g.Layers {
		attnIn := h
		if !g.PostLN {
			attnIn = make([][]float64, T)
			for t := range h {
				attnIn[t] = f.norm(L.AttnNorm, h[t])
			}
		}
		Q, K, V := make([][]float64, T), make([][]float64, T), make([][]float64, T)
		for t := range h {
			Q[t], K[t], V[t] = f.linear(L.Q, attnIn[t]), f.linear(L.K, attnIn[t]), f.linear(L.V, attnIn[t])
			f.rope(Q[t], t, d)
			f.rope(K[t], t, d)
		}
		gq := g.Heads / g.KVHeads
		att := make([][]float64, T)
		for t := range h {
			att[t] = make([]float64, g.Heads*d)
			for hh := 0; hh < g.Heads; hh++ {
				kv := hh / gq
				n := T
				if causal {
					n = t + 1
				}
				sc := make([]float64, n)
				m := math.Inf(-1)
				for u := 0; u < n; u++ {
					s := 0.0
					for j := 0; j < d; j++ {
						s += Q[t][hh*d+j] * K[u][kv*d+j]
					}
					sc[u] = s / math.Sqrt(float64(d))
					m = math.Max(m, sc[u])
				}
				z := 0.0
				for u := range sc {
					sc[u] = math.Exp(sc[u] - m)
					z += sc[u]
				}
				for u := range sc {
					for j := 0; j < d; j++ {
						att[t][hh*d+j] += sc[u] / z * V[u][kv*d+j]
					}
				}
			}
		}
		for t := range h {
			o := f.linear(L.O, att[t])
			for i := range h[t] {
				h[t][i] += o[i]
			}
			if g.PostLN {
				h[t] = f.norm(L.AttnNorm, h[t])
			}
			x := h[t]
			if !g.PostLN {
				x = f.norm(L.MLPNorm, h[t])
			}
			u := f.linear(L.Up, x)
			if L.Gate.W != nil {
				gt := f.linear(L.Gate, x)
				for i := range u {
					u[i] *= f.act(gt[i])
				}
			} else {
				for i := range u {
					u[i] = f.act(u[i])
				}
			}
			dn := f.linear(L.Down, u)
			for i := range h[t] {
				h[t][i] += dn[i]
			}
			if g.PostLN {
				h[t] = f.norm(L.MLPNorm, h[t])
			}
		}
		snap()
	}
	head := g.Head
	if g.Tied {
		head = g.Embed
	}
	for t := range h {
		x := h[t]
		if g.FinalNorm.W != nil {
			x = f.norm(g.FinalNorm, x)
		}
		if g.MLMTransform.W != nil {
			x = f.linear(g.MLMTransform, x)
			for i := range x {
				x[i] = f.act(x[i])
			}
			x = f.norm(g.MLMNorm, x)
		}
		if head == nil {
			logits = append(logits, x)
			continue
		}
		logits = append(logits, f.linear(graph.Linear{W: head, B: g.HeadBias}, x))
	}
	return hidden, logits
}

// model describes a random test model.
type model struct {
	family        graph.Family
	D, H, K, I, V int
	L, P          int
	tied, bias    bool
	mlm           bool
}

func randT(r *rand.Rand, std float64, shape ...int) graph.Tensor {
	n := 1
	for _, s := range shape {
		n *= s
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64() * std
	}
	return graph.NewDense64(v, checkpoint.F64, shape...)
}

func gainT(r *rand.Rand, n int) graph.Tensor {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1 + 0.2*r.NormFloat64()
	}
	return graph.NewDense64(v, checkpoint.F64, n)
}

// randomGraph builds a random model of the given family with graph.Dense tensors.
func randomGraph(m model, seed uint64) *graph.Graph {
	r := rand.New(rand.NewPCG(seed, 7))
	d := m.D / m.H
	g := &graph.Graph{Family: m.family, Dims: graph.Dims{Hidden: m.D, Layers: m.L, Heads: m.H, KVHeads: m.K,
		HeadDim: d, FFN: m.I, Vocab: m.V, Positions: m.P}, Tied: m.tied}
	switch m.family {
	case graph.FamilyLlama:
		g.NormKind, g.Eps, g.Act, g.RopeTheta = graph.RMSNorm, 1e-5, "silu", 10000
	case graph.FamilyGPT2:
		g.NormKind, g.Eps, g.Act = graph.LayerNorm, 1e-5, "gelu_new"
	case graph.FamilyBERT:
		g.NormKind, g.Eps, g.Act, g.PostLN = graph.LayerNorm, 1e-12, "gelu", true
		g.TypeVocab = 2
	}
	norm := func() graph.Norm {
		n := graph.Norm{W: gainT(r, m.D)}
		if g.NormKind == graph.LayerNorm {
			n.B = randT(r, 0.1, m.D)
		}
		return n
	}
	lin := func(o, i int, bias bool) graph.Linear {
		l := graph.Linear{W: randT(r, 1/math.Sqrt(float64(i)), o, i)}
		if bias {
			l.B = randT(r, 0.1, o)
		}
		return l
	}
	g.Embed = randT(r, 1, m.V, m.D)
	if m.family != graph.FamilyLlama {
		g.Pos = randT(r, 0.3, m.P, m.D)
	}
	if m.family == graph.FamilyBERT {
		g.TokenType = randT(r, 0.3, 2, m.D)
		g.EmbedNorm = norm()
	}
	lb := m.bias || m.family != graph.FamilyLlama
	for l := 0; l < m.L; l++ {
		var L graph.Layer
		L.AttnNorm, L.MLPNorm = norm(), norm()
		L.Q, L.K, L.V = lin(m.H*d, m.D, lb), lin(m.K*d, m.D, lb), lin(m.K*d, m.D, lb)
		L.O = lin(m.D, m.H*d, lb && m.family != graph.FamilyLlama)
		L.Up = lin(m.I, m.D, lb && m.family != graph.FamilyLlama)
		if m.family == graph.FamilyLlama {
			L.Gate = lin(m.I, m.D, false)
		}
		L.Down = lin(m.D, m.I, lb && m.family != graph.FamilyLlama)
		g.Layers = append(g.Layers, L)
	}
	if m.family != graph.FamilyBERT {
		g.FinalNorm = norm()
	}
	if m.mlm {
		g.MLMTransform = lin(m.D, m.D, true)
		g.MLMNorm = norm()
		g.HeadBias = randT(r, 0.1, m.V)
	}
	if !m.tied {
		g.Head = randT(r, 0.3, m.V, m.D)
	}
	return g
}
