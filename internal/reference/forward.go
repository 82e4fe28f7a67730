// Package reference is a deliberately plain float64 forward pass over
// graph.Graph (GPT-2, the LLaMA family with Qwen3's QK-norm and Phi-3's
// partial rotary, Gemma's (1 + w) norms and scaled embeddings, GPT-NeoX's
// parallel blocks, OPT, OLMo-2's norms after the sublayers and over the
// whole q and k, BERT), used only as a test oracle. It
// is written from docs/exactness.md (the forward pass) independently of package probe's engine
// (it does not import probe): one position, one head, one dot product at a
// time, float64 throughout, no BLAS, no fused weights. Tests compare the engine,
// and the growth operators' results, with it.
//
// The package also builds the synthetic random graphs of every family that
// those tests run on (Synth) and opens test checkpoints (OpenGraph). Its
// functions take the test's testing.TB and fail the test on bad input.
package reference

import (
	"math"
	"testing"

	"github.com/grow-ml/grow/graph"
)

// Output is what Forward computes for one sequence.
type Output struct {
	// Hidden holds the hidden states after the embeddings (Hidden[0]) and after
	// each block (Hidden[l], l = 1..L), one [D] vector per position.
	Hidden [][][]float64
	// Logits holds one row per position: the logits over the vocabulary, or, for
	// a BERT encoder without an MLM head, the last hidden state.
	Logits [][]float64
}

// Values returns x's values as float64, or nil for a nil tensor; a tensor that
// cannot be read fails the test.
func Values(t testing.TB, x graph.Tensor) []float64 {
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

// linear is a graph.Linear read into float64: W [out, in], b [out] or nil.
type linear struct {
	w, b    []float64
	out, in int
}

func readLinear(t testing.TB, what string, l graph.Linear) linear {
	t.Helper()
	if l.W == nil {
		t.Fatalf("reference: %s: missing weight", what)
	}
	sh := l.W.Shape()
	if len(sh) != 2 {
		t.Fatalf("reference: %s: weight shape %v, want [out, in]", what, sh)
	}
	r := linear{w: Values(t, l.W), b: Values(t, l.B), out: sh[0], in: sh[1]}
	if r.b != nil && len(r.b) != r.out {
		t.Fatalf("reference: %s: bias of %d values for %d outputs", what, len(r.b), r.out)
	}
	return r
}

func (l linear) apply(t testing.TB, x []float64) []float64 {
	if len(x) != l.in {
		t.Fatalf("reference: linear map of %d inputs applied to %d values", l.in, len(x))
	}
	y := make([]float64, l.out)
	for o := range y {
		s := 0.0
		for i, v := range l.w[o*l.in : (o+1)*l.in] {
			s += v * x[i]
		}
		if l.b != nil {
			s += l.b[o]
		}
		y[o] = s
	}
	return y
}

// Linear returns W x + b for l.W [out, in] (l.B may be nil).
func Linear(t testing.TB, l graph.Linear, x []float64) []float64 {
	t.Helper()
	return readLinear(t, "linear", l).apply(t, x)
}

// norm is a graph.Norm read into float64: an RMSNorm or a LayerNorm (whose
// bias may be nil).
type norm struct {
	w, b []float64
	rms  bool
	eps  float64
	// mask, when set, weights the statistics and multiplies the output
	// (MSG's masked norm over the residual stream).
	mask []float64
	// plusOne: the gain is 1 + w (Gemma).
	plusOne bool
}

func readNorm(t testing.TB, what string, n graph.Norm, rms bool, eps float64, plusOne bool) norm {
	t.Helper()
	if n.W == nil {
		t.Fatalf("reference: %s: missing weight", what)
	}
	return norm{w: Values(t, n.W), b: Values(t, n.B), rms: rms, eps: eps, plusOne: plusOne}
}

// gain returns the i-th gain.
func (n norm) gain(i int) float64 {
	if n.plusOne {
		return 1 + n.w[i]
	}
	return n.w[i]
}

func (n norm) apply(x []float64) []float64 {
	if n.mask != nil {
		return n.masked(x)
	}
	D := float64(len(x))
	y := make([]float64, len(x))
	if n.rms {
		ms := 0.0
		for _, v := range x {
			ms += v * v / D
		}
		for i, v := range x {
			y[i] = n.gain(i) * v / math.Sqrt(ms+n.eps)
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
		y[i] = (v - mu) / math.Sqrt(va+n.eps) * n.gain(i)
		if n.b != nil {
			y[i] += n.b[i]
		}
	}
	return y
}

// masked is MSG's norm: statistics weighted by the mask, output times it.
func (n norm) masked(x []float64) []float64 {
	D := 0.0
	for _, c := range n.mask {
		D += c
	}
	y := make([]float64, len(x))
	if n.rms {
		ms := 0.0
		for i, v := range x {
			ms += n.mask[i] * v * v / D
		}
		for i, v := range x {
			y[i] = n.gain(i) * v / math.Sqrt(ms+n.eps) * n.mask[i]
		}
		return y
	}
	mu := 0.0
	for i, v := range x {
		mu += n.mask[i] * v / D
	}
	va := 0.0
	for i, v := range x {
		va += n.mask[i] * (v - mu) * (v - mu) / D
	}
	for i, v := range x {
		y[i] = (v - mu) / math.Sqrt(va+n.eps) * n.gain(i)
		if n.b != nil {
			y[i] += n.b[i]
		}
		y[i] *= n.mask[i]
	}
	return y
}

// Masks are MSG's growth masks for ForwardMasked (see probe.GrowthMasks):
// 1 on the source's coordinates, the mask value on new ones. A nil field
// masks nothing.
type Masks struct {
	Hidden, Q, KV, FFN, Layers []float64
}

// times multiplies x by mask in place (nil: nothing).
func times(x, mask []float64) {
	for i := range mask {
		x[i] *= mask[i]
	}
}

// act is the MLP activation named by graph.Graph.Act.
func act(t testing.TB, name string) func(float64) float64 {
	t.Helper()
	switch name {
	case "gelu": // exact, erf
		return func(x float64) float64 { return x * 0.5 * (1 + math.Erf(x/math.Sqrt2)) }
	case "gelu_new": // tanh approximation
		return func(x float64) float64 {
			return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		}
	case "silu":
		return func(x float64) float64 { return x / (1 + math.Exp(-x)) }
	case "relu":
		return func(x float64) float64 { return math.Max(x, 0) }
	}
	t.Fatalf("reference: activation %q is not implemented", name)
	return nil
}

// ropeFreqs returns the d/2 angular frequencies θ^(-2j/d) of rotate_half RoPE
// with the config's rope_scaling applied: none, "default", "linear" (every
// frequency divided by factor) or "llama3" (transformers' rule: wavelengths
// shorter than original_max_position_embeddings / high_freq_factor kept,
// longer than original_max_position_embeddings / low_freq_factor divided by
// factor, and the band between interpolated).
func ropeFreqs(t testing.TB, theta float64, d int, scaling map[string]any) []float64 {
	t.Helper()
	f := make([]float64, d/2)
	for j := range f {
		f[j] = math.Pow(theta, -2*float64(j)/float64(d))
	}
	if scaling == nil {
		return f
	}
	typ, _ := scaling["rope_type"].(string)
	if typ == "" {
		typ, _ = scaling["type"].(string)
	}
	num := func(key string) float64 {
		switch v := scaling[key].(type) {
		case float64:
			return v
		case int:
			return float64(v)
		}
		t.Fatalf("reference: rope_scaling %q: %q is %v, want a number", typ, key, scaling[key])
		return 0
	}
	switch typ {
	case "", "default":
	case "linear":
		factor := num("factor")
		for j := range f {
			f[j] /= factor
		}
	case "llama3":
		factor, lo, hi, orig := num("factor"), num("low_freq_factor"), num("high_freq_factor"),
			num("original_max_position_embeddings")
		for j, fr := range f {
			switch wave := 2 * math.Pi / fr; {
			case wave < orig/hi:
			case wave > orig/lo:
				f[j] = fr / factor
			default:
				s := (orig/wave - lo) / (hi - lo)
				f[j] = (1-s)*fr/factor + s*fr
			}
		}
	default:
		t.Fatalf("reference: rope_scaling type %q is not implemented", typ)
	}
	return f
}

// rope rotates, in each d-wide head of v, the first r = 2·len(freqs) dims:
// the pairs (j, j+r/2) by pos·freqs[j]. The other d-r dims of the head are
// left as they are (partial rotary).
func rope(v []float64, d, pos int, freqs []float64) {
	r := 2 * len(freqs)
	for h := 0; h+d <= len(v); h += d {
		x := v[h : h+r]
		for j, fr := range freqs {
			ang := float64(pos) * fr
			c, s := math.Cos(ang), math.Sin(ang)
			a, b := x[j], x[j+r/2]
			x[j] = a*c - b*s
			x[j+r/2] = a*s + b*c
		}
	}
}

// perHead applies n to each d-wide head of v in place.
func perHead(n norm, v []float64, d int) {
	for h := 0; h+d <= len(v); h += d {
		copy(v[h:h+d], n.apply(v[h:h+d]))
	}
}

// Forward runs g on ids and returns the hidden states and the outputs at every
// position. mask (nil: all ones) hides the key positions where it is 0, as
// transformers' attention_mask does. Attention is causal except for BERT
// (PostLN); rotary families use RoPE (RopeTheta > 0) over the first
// int(HeadDim × fraction) dims of each head (RotaryFraction, or the family's
// when it is 0), may normalise each query and key head first (QNorm, KNorm:
// Qwen3) or the whole query and key (QProjNorm, KProjNorm: OLMo-2) and may
// have grouped or multi-query attention and biases. A block adds attention
// and MLP one after the other, or both computed from its input
// (ParallelResidual: GPT-NeoX); a layer with AttnOutNorm normalises each
// sublayer's output instead of its input (OLMo-2). Embeddings are scaled by
// Graph.EmbedScale (Gemma); norms multiply by 1 + w where the family says so
// (Gemma). The outputs go through the final norm (pre-LN families) or
// BERT's MLM transform when the graph has one, then the head (Head, or Embed
// when tied or when Head is nil) plus HeadBias; a BERT encoder without an
// MLM head outputs its last hidden state.
func Forward(t testing.TB, g *graph.Graph, ids, mask []int) Output {
	t.Helper()
	return ForwardMasked(t, g, ids, mask, nil)
}

// ForwardMasked is Forward with MSG's masked forward pass when gm is not
// nil: the embedding output and every sublayer output are multiplied by the
// hidden mask, every norm over the stream takes masked statistics and masks
// its output, q, k and v are multiplied by their masks, the MLP units by the
// FFN mask, and block l's output is Layers[l]·block(h) + (1 − Layers[l])·h.
func ForwardMasked(t testing.TB, g *graph.Graph, ids, mask []int, gm *Masks) Output {
	t.Helper()
	if gm == nil {
		gm = &Masks{}
	}
	D, H, K, d := g.Hidden, g.Heads, g.KVHeads, g.HeadDim
	plusOne := g.Features().NormPlusOne
	readNorm := func(t testing.TB, what string, n graph.Norm, rms bool, eps float64) norm {
		t.Helper()
		return readNorm(t, what, n, rms, eps, plusOne)
	}
	embScale := g.EmbedScale()
	if K <= 0 || H%K != 0 {
		t.Fatalf("reference: %d query heads in groups over %d kv heads", H, K)
	}
	if mask != nil && len(mask) != len(ids) {
		t.Fatalf("reference: mask of %d for %d ids", len(mask), len(ids))
	}
	rms := g.NormKind == graph.RMSNorm
	causal := !g.PostLN
	T := len(ids)
	var out Output
	snap := func(hs [][]float64) {
		c := make([][]float64, T)
		for p := range hs {
			c[p] = append([]float64(nil), hs[p]...)
		}
		out.Hidden = append(out.Hidden, c)
	}

	emb, pos, tt := Values(t, g.Embed), Values(t, g.Pos), Values(t, g.TokenType)
	var embNorm norm
	if g.EmbedNorm.W != nil {
		embNorm = readNorm(t, "embed_norm", g.EmbedNorm, rms, g.Eps)
		embNorm.mask = gm.Hidden
	}
	hs := make([][]float64, T)
	for p, id := range ids {
		if id < 0 || (id+1)*D > len(emb) {
			t.Fatalf("reference: id %d at position %d is outside the vocabulary of %d", id, p, len(emb)/max(D, 1))
		}
		h := append([]float64(nil), emb[id*D:(id+1)*D]...)
		for i := range h {
			h[i] *= embScale
		}
		if pos != nil {
			if (p+1)*D > len(pos) {
				t.Fatalf("reference: position %d beyond the %d learned positions", p, len(pos)/D)
			}
			for i := range h {
				h[i] += pos[p*D+i]
			}
		}
		for i := range tt[:min(len(tt), D)] { // token type 0
			h[i] += tt[i]
		}
		if embNorm.w != nil {
			h = embNorm.apply(h)
		} else {
			times(h, gm.Hidden)
		}
		hs[p] = h
	}
	snap(hs)

	var freqs []float64
	if g.RopeTheta > 0 {
		// Partial rotary: the first int(d × fraction) dims of a head, with
		// the graph's fraction or, when it has none, its family's
		// (GPT-NeoX's 0.25).
		frac := g.RotaryFraction
		if frac == 0 {
			frac = g.Features().RotaryFraction
		}
		rot := d
		if frac > 0 {
			rot = int(float64(d) * frac)
		}
		if rot%2 != 0 || rot <= 0 || rot > d {
			t.Fatalf("reference: %d rotary dims of a %d-wide head", rot, d)
		}
		freqs = ropeFreqs(t, g.RopeTheta, rot, g.RopeScaling)
	}
	f := act(t, g.Act)
	scale := 1 / math.Sqrt(float64(d))
	for l, ly := range g.Layers {
		// Norms before the sublayers (attnNorm, mlpNorm) or after them
		// (attnOut, mlpOut), all over the stream.
		var attnNorm, mlpNorm, attnOut, mlpOut norm
		if ly.AttnOutNorm.W != nil {
			attnOut = readNorm(t, "attn_out_norm", ly.AttnOutNorm, rms, g.Eps)
			mlpOut = readNorm(t, "mlp_out_norm", ly.MLPOutNorm, rms, g.Eps)
			attnOut.mask, mlpOut.mask = gm.Hidden, gm.Hidden
		} else {
			attnNorm = readNorm(t, "attn_norm", ly.AttnNorm, rms, g.Eps)
			mlpNorm = readNorm(t, "mlp_norm", ly.MLPNorm, rms, g.Eps)
			attnNorm.mask, mlpNorm.mask = gm.Hidden, gm.Hidden
		}
		pre := func(n norm, x []float64) []float64 { // a norm before a sublayer, if any
			if n.w == nil || g.PostLN {
				return x
			}
			return n.apply(x)
		}
		q, k, v, o := readLinear(t, "q", ly.Q), readLinear(t, "k", ly.K), readLinear(t, "v", ly.V), readLinear(t, "o", ly.O)
		up, down := readLinear(t, "up", ly.Up), readLinear(t, "down", ly.Down)
		var gate linear
		if ly.Gate.W != nil {
			gate = readLinear(t, "gate", ly.Gate)
		}
		var qNorm, kNorm norm // QK-norm: over each head, before RoPE
		if ly.QNorm.W != nil {
			qNorm = readNorm(t, "q_norm", ly.QNorm, rms, g.Eps)
			kNorm = readNorm(t, "k_norm", ly.KNorm, rms, g.Eps)
		}
		var qAll, kAll norm // QK-norm over the whole q and k, before RoPE
		if ly.QProjNorm.W != nil {
			qAll = readNorm(t, "q_proj_norm", ly.QProjNorm, rms, g.Eps)
			kAll = readNorm(t, "k_proj_norm", ly.KProjNorm, rms, g.Eps)
		}

		// attention
		qs, ks, vs := make([][]float64, T), make([][]float64, T), make([][]float64, T)
		for p := range hs {
			in := pre(attnNorm, hs[p])
			qs[p], ks[p], vs[p] = q.apply(t, in), k.apply(t, in), v.apply(t, in)
			times(qs[p], gm.Q)
			times(ks[p], gm.KV)
			times(vs[p], gm.KV)
			if qAll.w != nil {
				qs[p], ks[p] = qAll.apply(qs[p]), kAll.apply(ks[p])
			}
			if qNorm.w != nil {
				perHead(qNorm, qs[p], d)
				perHead(kNorm, ks[p], d)
			}
			if freqs != nil {
				rope(qs[p], d, p, freqs)
				rope(ks[p], d, p, freqs)
			}
		}
		next := make([][]float64, T)
		for p := range hs {
			cat := make([]float64, H*d)
			for h := 0; h < H; h++ {
				kh := h / (H / K) // the kv head of query head h's group
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
					sc[i] = dot * scale
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
			a := o.apply(t, cat)
			times(a, gm.Hidden)
			if attnOut.w != nil {
				a = attnOut.apply(a)
			}
			x := make([]float64, D)
			for i := range x {
				x[i] = hs[p][i]
				if !g.ParallelResidual { // parallel: added with the MLP's output
					x[i] += a[i]
				}
			}
			if g.PostLN {
				x = attnNorm.apply(x)
			}

			// MLP: on the stream after the attention, or on the block's
			// input beside it (parallel)
			in := x
			if g.ParallelResidual {
				in = hs[p]
			}
			in = pre(mlpNorm, in)
			u := up.apply(t, in)
			if gate.w != nil {
				gt := gate.apply(t, in)
				for i := range u {
					u[i] *= f(gt[i])
				}
				times(u, gm.FFN)
			} else {
				times(u, gm.FFN)
				for i := range u {
					u[i] = f(u[i])
				}
			}
			dn := down.apply(t, u)
			times(dn, gm.Hidden)
			if mlpOut.w != nil {
				dn = mlpOut.apply(dn)
			}
			for i := range x {
				if g.ParallelResidual {
					dn[i] += a[i] // transformers: mlp + attn + h
				}
				x[i] += dn[i]
			}
			if g.PostLN {
				x = mlpNorm.apply(x)
			}
			if gm.Layers != nil && gm.Layers[l] != 1 {
				c := gm.Layers[l]
				for i := range x {
					x[i] = c*x[i] + (1-c)*hs[p][i]
				}
			}
			next[p] = x
		}
		hs = next
		snap(hs)
	}

	// output
	var final, mlmNorm norm
	var mlm, head linear
	switch {
	case !g.PostLN:
		final = readNorm(t, "final_norm", g.FinalNorm, rms, g.Eps)
		final.mask = gm.Hidden
	case g.MLMTransform.W != nil:
		mlm = readLinear(t, "mlm.transform", g.MLMTransform)
		mlmNorm = readNorm(t, "mlm.norm", g.MLMNorm, rms, g.Eps)
		mlmNorm.mask = gm.Hidden
	default: // BERT encoder: the last hidden states
		for _, h := range hs {
			out.Logits = append(out.Logits, append([]float64(nil), h...))
		}
		return out
	}
	hw := g.Head
	if g.Tied || hw == nil {
		hw = g.Embed
	}
	head = readLinear(t, "head", graph.Linear{W: hw, B: g.HeadBias})
	for _, h := range hs {
		if final.w != nil {
			h = final.apply(h)
		}
		if mlm.w != nil {
			h = mlm.apply(t, h)
			for i := range h {
				h[i] = f(h[i])
			}
			h = mlmNorm.apply(h)
		}
		out.Logits = append(out.Logits, head.apply(t, h))
	}
	return out
}
