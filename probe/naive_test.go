package probe

import (
	"math"
	"testing"

	"github.com/grow-ml/grow/graph"
)

// This file is a second forward pass, written independently of forward.go from
// operators.md §0.3 in the plainest way: one token, one head, one dot product
// at a time, float64 throughout, no BLAS, no fused weights. Tests compare the
// engine with it.

func f64(t testing.TB, x graph.Tensor) []float64 {
	t.Helper()
	if x == nil {
		return nil
	}
	v, err := x.Float64()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// matvec returns W x + b for W [out, in].
func matvec(t testing.TB, l graph.Linear, x []float64) []float64 {
	w := f64(t, l.W)
	b := f64(t, l.B)
	out := l.W.Shape()[0]
	in := len(x)
	y := make([]float64, out)
	for o := range y {
		s := 0.0
		for i := 0; i < in; i++ {
			s += w[o*in+i] * x[i]
		}
		if b != nil {
			s += b[o]
		}
		y[o] = s
	}
	return y
}

func naiveNorm(t testing.TB, n graph.Norm, rms bool, eps float64, x []float64) []float64 {
	w, b := f64(t, n.W), f64(t, n.B)
	D := float64(len(x))
	y := make([]float64, len(x))
	if rms {
		ms := 0.0
		for _, v := range x {
			ms += v * v / D
		}
		for i, v := range x {
			y[i] = w[i] * v / math.Sqrt(ms+eps)
		}
		return y
	}
	mu := 0.0
	for _, v := range x {
		mu += v / D
	}
	va := 0.0
	for _, v := range x {
		va += (v - mu) * (v - mu) / D
	}
	for i, v := range x {
		y[i] = (v-mu)/math.Sqrt(va+eps)*w[i] + b[i]
	}
	return y
}

func naiveAct(name string, x float64) float64 {
	switch name {
	case "gelu":
		return x * 0.5 * (1 + math.Erf(x/math.Sqrt(2)))
	case "gelu_new":
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*math.Pow(x, 3))))
	case "silu":
		return x * (1 / (1 + math.Exp(-x)))
	}
	panic("naiveAct: " + name)
}

// naiveRope rotates the pairs (j, j+d/2) of one head by pos·θ^(-2j/d) (no scaling).
func naiveRope(x []float64, pos int, theta float64) {
	d := len(x)
	for j := 0; j < d/2; j++ {
		ang := float64(pos) * math.Pow(theta, -2*float64(j)/float64(d))
		a, b := x[j], x[j+d/2]
		x[j] = a*math.Cos(ang) - b*math.Sin(ang)
		x[j+d/2] = a*math.Sin(ang) + b*math.Cos(ang)
	}
}

// naiveForward returns the logits (or last hidden states) at every position.
// mask (nil: all ones) hides key positions as transformers' attention_mask does.
func naiveForward(t testing.TB, g *graph.Graph, ids, mask []int) [][]float64 {
	D, H, K, d := g.Hidden, g.Heads, g.KVHeads, g.HeadDim
	rms := g.NormKind == graph.RMSNorm
	causal := g.Family != graph.FamilyBERT
	T := len(ids)
	emb := f64(t, g.Embed)
	hs := make([][]float64, T)
	for p, id := range ids {
		h := append([]float64(nil), emb[id*D:(id+1)*D]...)
		if g.Pos != nil {
			pos := f64(t, g.Pos)
			for i := range h {
				h[i] += pos[p*D+i]
			}
		}
		if g.TokenType != nil {
			tt := f64(t, g.TokenType)
			for i := range h {
				h[i] += tt[i]
			}
			h = naiveNorm(t, g.EmbedNorm, false, g.Eps, h)
		}
		hs[p] = h
	}
	for _, ly := range g.Layers {
		// attention
		qs, ks, vs := make([][]float64, T), make([][]float64, T), make([][]float64, T)
		for p := range hs {
			in := hs[p]
			if !g.PostLN {
				in = naiveNorm(t, ly.AttnNorm, rms, g.Eps, in)
			}
			qs[p], ks[p], vs[p] = matvec(t, ly.Q, in), matvec(t, ly.K, in), matvec(t, ly.V, in)
			if g.RopeTheta > 0 {
				for h := 0; h < H; h++ {
					naiveRope(qs[p][h*d:(h+1)*d], p, g.RopeTheta)
				}
				for h := 0; h < K; h++ {
					naiveRope(ks[p][h*d:(h+1)*d], p, g.RopeTheta)
				}
			}
		}
		next := make([][]float64, T)
		for p := range hs {
			cat := make([]float64, H*d)
			for h := 0; h < H; h++ {
				kh := h / (H / K)
				var keys []int
				for s := 0; s < T; s++ {
					if (causal && s > p) || (mask != nil && mask[s] == 0) {
						continue
					}
					keys = append(keys, s)
				}
				sc := make([]float64, len(keys))
				mx := math.Inf(-1)
				for i, s := range keys {
					dot := 0.0
					for j := 0; j < d; j++ {
						dot += qs[p][h*d+j] * ks[s][kh*d+j]
					}
					sc[i] = dot / math.Sqrt(float64(d))
					mx = math.Max(mx, sc[i])
				}
				z := 0.0
				for i := range sc {
					sc[i] = math.Exp(sc[i] - mx)
					z += sc[i]
				}
				for i, s := range keys {
					for j := 0; j < d; j++ {
						cat[h*d+j] += sc[i] / z * vs[s][kh*d+j]
					}
				}
			}
			o := matvec(t, ly.O, cat)
			x := make([]float64, D)
			for i := range x {
				x[i] = hs[p][i] + o[i]
			}
			if g.PostLN {
				x = naiveNorm(t, ly.AttnNorm, false, g.Eps, x)
			}
			// MLP
			in := x
			if !g.PostLN {
				in = naiveNorm(t, ly.MLPNorm, rms, g.Eps, x)
			}
			u := matvec(t, ly.Up, in)
			if ly.Gate.W != nil {
				gt := matvec(t, ly.Gate, in)
				for i := range u {
					u[i] *= naiveAct(g.Act, gt[i])
				}
			} else {
				for i := range u {
					u[i] = naiveAct(g.Act, u[i])
				}
			}
			dn := matvec(t, ly.Down, u)
			for i := range x {
				x[i] += dn[i]
			}
			if g.PostLN {
				x = naiveNorm(t, ly.MLPNorm, false, g.Eps, x)
			}
			next[p] = x
		}
		hs = next
	}
	out := make([][]float64, T)
	for p, h := range hs {
		switch {
		case !g.PostLN:
			h = naiveNorm(t, g.FinalNorm, rms, g.Eps, h)
		case g.MLMTransform.W != nil:
			h = matvec(t, g.MLMTransform, h)
			for i := range h {
				h[i] = naiveAct(g.Act, h[i])
			}
			h = naiveNorm(t, g.MLMNorm, false, g.Eps, h)
		default:
			out[p] = h
			continue
		}
		head := g.Head
		if head == nil {
			head = g.Embed
		}
		out[p] = matvec(t, graph.Linear{W: head, B: g.HeadBias}, h)
	}
	return out
}
