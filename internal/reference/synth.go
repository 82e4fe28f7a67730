package reference

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/graph/family"
)

// Spec describes a synthetic model with random weights for tests and
// benchmarks. Zero fields take the defaults given with them.
type Spec struct {
	// Family picks the family descriptor whose features the model has (the
	// model_type of the same name: gpt2, llama, bert); the graph has no
	// config. ModelType, when set, picks any registered model_type instead
	// (qwen3, phi3, ...): the graph gets its Family from the descriptor and a
	// config of that model_type stating its dims, so that it is written,
	// read and probed as that model type.
	Family    graph.Family
	ModelType string
	// D is the hidden size, L the number of layers, H the query heads, K the
	// key/value heads (0: H), HeadDim the head width (0: D/H), I the FFN width,
	// V the vocabulary and P the learned positions (0: 128; the LLaMA family has
	// none and says 2048 positions).
	D, L, H, K, HeadDim, I, V, P int
	// Tied ties the head to the embedding (GPT-2, LLaMA; BERT is always tied).
	Tied bool
	// Bias gives a LLaMA-family model q, k, v biases (Qwen2); GPT-2 and BERT
	// always have biases. With ModelType it turns the config's attention-bias
	// switch on instead: the biases the family's rules then give (q, k, v and
	// o for llama and qwen3); a family without such a switch keeps the biases
	// its rules fix (so that a test may ask every model type for biases).
	Bias bool
	// MLM gives a BERT model an MLM head (transform, norm, head bias); without
	// it the BERT model is an encoder that outputs its last hidden state.
	MLM bool
	// Act overrides the family's activation (silu, gelu_new, gelu).
	Act string
	// Theta is the RoPE base of the LLaMA family (0: 10000); RopeScaling its
	// rope_scaling.
	Theta       float64
	RopeScaling map[string]any
	// RotaryFraction is the fraction of each head RoPE rotates (0: the
	// family's); only for a family whose config has the key (Phi-3's
	// partial_rotary_factor).
	RotaryFraction float64
	// Sequential runs attention and the MLP one after the other in a family
	// whose blocks run them side by side by default (GPT-NeoX with
	// use_parallel_residual false).
	Sequential bool
	// Std is the standard deviation of the weight matrices (0: 0.1).
	Std float64
	// Seed seeds the random weights.
	Seed uint64
	// F32 stores the weights as float32 graph.Dense tensors (default float64).
	F32 bool
}

// Synth builds a graph with random weights from s: embeddings with standard
// deviation 1, learned positions and token types 0.3, norm gains (QK-norm
// gains included) 1 ± 0.1 (stored as ±0.1 where the family multiplies by
// 1 + w), norm and linear biases 0.1 and weight matrices s.Std. The tensors present and the norm kind follow the family's features;
// the norm eps is 1e-12 for a post-LN family, else 1e-5, and the activation
// the family's default. Synth panics when s.Family or s.ModelType has no
// descriptor, or when s asks for what the family does not have (a mistake in
// the test).
func Synth(s Spec) *graph.Graph {
	rng := rand.New(rand.NewPCG(s.Seed, 99))
	if s.Std == 0 {
		s.Std = 0.1
	}
	if s.K == 0 {
		s.K = s.H
	}
	if s.HeadDim == 0 {
		s.HeadDim = s.D / s.H
	}
	if s.P == 0 {
		s.P = 128
	}
	tensor := func(shape []int, draw func() float64) graph.Tensor {
		n := 1
		for _, x := range shape {
			n *= x
		}
		if s.F32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(draw())
			}
			return graph.NewDense32(v, checkpoint.F32, shape...)
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = draw()
		}
		return graph.NewDense64(v, checkpoint.F64, shape...)
	}
	mat := func(std float64, shape ...int) graph.Tensor {
		return tensor(shape, func() float64 { return rng.NormFloat64() * std })
	}
	gain := func(n int) graph.Tensor {
		return tensor([]int{n}, func() float64 { return 1 + 0.1*rng.NormFloat64() })
	}
	var d *family.Descriptor
	if s.ModelType != "" {
		d, _ = family.Lookup(s.ModelType)
	} else {
		d, _ = family.Lookup(string(s.Family))
	}
	if d != nil && d.Features.NormPlusOne {
		gain = func(n int) graph.Tensor { // the gain is 1 + w
			return tensor([]int{n}, func() float64 { return 0.1 * rng.NormFloat64() })
		}
	}
	g := &graph.Graph{Family: s.Family, Dims: graph.Dims{Hidden: s.D, Layers: s.L, Heads: s.H, KVHeads: s.K,
		HeadDim: s.HeadDim, FFN: s.I, Vocab: s.V, Positions: s.P}, Act: s.Act, Tied: s.Tied}
	if s.ModelType != "" {
		if d == nil {
			panic("reference: Synth: unknown model_type " + s.ModelType)
		}
		g.Family = graph.Family(d.Family)
	} else if d = g.Descriptor(); d == nil {
		panic("reference: Synth: unknown family " + string(s.Family))
	}
	ft := d.Features
	rms := ft.Norm == graph.RMSNorm
	headNorm := func() graph.Norm { // QK-norm, over one head
		if rms {
			return graph.Norm{W: gain(s.HeadDim)}
		}
		return graph.Norm{W: gain(s.HeadDim), B: mat(0.1, s.HeadDim)}
	}
	wideNorm := func(n int) graph.Norm { // QK-norm over a whole projection
		if rms {
			return graph.Norm{W: gain(n)}
		}
		return graph.Norm{W: gain(n), B: mat(0.1, n)}
	}
	normOf := func() graph.Norm {
		if rms {
			return graph.Norm{W: gain(s.D)}
		}
		return graph.Norm{W: gain(s.D), B: mat(0.1, s.D)}
	}
	lin := func(out, in int, bias bool) graph.Linear {
		l := graph.Linear{W: mat(s.Std, out, in)}
		if bias {
			l.B = mat(0.1, out)
		}
		return l
	}
	g.Embed = mat(1, s.V, s.D)
	g.NormKind, g.PostLN = ft.Norm, ft.PostLN
	g.Eps = 1e-5
	if ft.PostLN {
		g.Eps = 1e-12
	}
	if g.Act == "" {
		g.Act = graph.ActName(d, d.Config.ActDefault)
	}
	if d.Config.ParallelResidual != "" {
		g.ParallelResidual = d.Config.ParallelResidualDefault && !s.Sequential
	} else if s.Sequential {
		panic("reference: Synth: " + d.Name + " has no parallel blocks")
	}
	if s.RotaryFraction != 0 && (ft.Positions != family.Rotary || d.Config.RotaryFraction == nil) {
		panic("reference: Synth: " + d.Name + " has no partial rotary")
	}
	if ft.Positions == family.Rotary {
		g.RopeTheta, g.RopeScaling = s.Theta, s.RopeScaling
		if g.RopeTheta == 0 {
			g.RopeTheta = 10000
		}
		g.Positions = d.Config.PositionsDefault
		g.RotaryFraction = s.RotaryFraction
	} else {
		g.Pos = mat(0.3, s.P, s.D)
		if hasRole(d, "pos_pad") {
			g.PosPad = mat(0.3, 2, s.D)
		}
	}
	if ft.TokenTypes {
		g.TokenType = mat(0.3, 2, s.D)
		g.TypeVocab = 2
	}
	if ft.EmbedNorm {
		g.EmbedNorm = normOf()
	}
	b := ft.Biases
	qkvBias, oBias := s.Bias || b.QKV == family.BiasAlways, b.O == family.BiasAlways
	mlpBias := b.MLP == family.BiasAlways
	if s.ModelType != "" {
		// Bias turns the attention-bias switch on, and the MLP-bias switch
		// where it is the same key (OPT's enable_bias).
		shared := d.Config.MLPBias != "" && d.Config.MLPBias == d.Config.AttentionBias
		on := func(r family.Bias) bool {
			return r == family.BiasAlways || (r == family.BiasIfAttention && s.Bias) || (r == family.BiasIfMLP && shared && s.Bias)
		}
		qkvBias, oBias, mlpBias = on(b.QKV), on(b.O), on(b.MLP)
	}
	for range s.L {
		// (the norms first: the order of the draws keeps the golden outputs)
		n1, n2 := normOf(), normOf()
		ly := graph.Layer{AttnNorm: n1, MLPNorm: n2,
			Q: lin(s.H*s.HeadDim, s.D, qkvBias), K: lin(s.K*s.HeadDim, s.D, qkvBias), V: lin(s.K*s.HeadDim, s.D, qkvBias),
			O: lin(s.D, s.H*s.HeadDim, oBias), Up: lin(s.I, s.D, mlpBias), Down: lin(s.D, s.I, mlpBias)}
		if ft.BlockNorms == family.NormsOut {
			ly.AttnNorm, ly.MLPNorm, ly.AttnOutNorm, ly.MLPOutNorm = graph.Norm{}, graph.Norm{}, n1, n2
		}
		if ft.GatedMLP {
			ly.Gate = lin(s.I, s.D, mlpBias)
		}
		switch {
		case ft.QKNorm && ft.QKNormWhole:
			ly.QProjNorm, ly.KProjNorm = wideNorm(s.H*s.HeadDim), wideNorm(s.K*s.HeadDim)
		case ft.QKNorm:
			ly.QNorm, ly.KNorm = headNorm(), headNorm()
		}
		g.Layers = append(g.Layers, ly)
	}
	if !ft.MLMHead {
		g.FinalNorm = normOf()
		if !s.Tied {
			g.Head = mat(s.Std, s.V, s.D)
		}
	} else {
		g.Tied = true
		if s.MLM {
			g.MLMTransform = lin(s.D, s.D, true)
			g.MLMNorm = normOf()
			g.HeadBias = mat(0.1, s.V)
		}
	}
	if s.ModelType != "" {
		g.Config = synthConfig(d, g, s.Bias)
	}
	return g
}

// hasRole reports whether family d's tensor table holds role.
func hasRole(d *family.Descriptor, role string) bool {
	for _, ts := range [][]family.Tensor{d.Tensors.Top, d.Tensors.PerLayer, d.Tensors.Bottom} {
		for _, t := range ts {
			if slices.Contains(t.Roles, role) {
				return true
			}
		}
	}
	return false
}

// synthConfig returns the config of model type d that states g's dims, eps,
// activation, tie, RoPE and the attention-bias switch, under the family's own
// key names.
func synthConfig(d *family.Descriptor, g *graph.Graph, bias bool) *checkpoint.Config {
	k := d.Config
	m := map[string]any{"model_type": d.ModelType, "tie_word_embeddings": g.Tied}
	set := func(keys []string, v any) {
		if len(keys) > 0 {
			m[keys[0]] = v
		}
	}
	set(k.Hidden, g.Hidden)
	set(k.Layers, g.Dims.Layers)
	set(k.Heads, g.Heads)
	set(k.KVHeads, g.KVHeads)
	set(k.HeadDim, g.HeadDim)
	set(k.FFN, g.FFN)
	set(k.Vocab, g.Vocab)
	set(k.Positions, g.Positions)
	set(k.TypeVocab, g.TypeVocab)
	set(k.NormEps, g.Eps)
	set(k.Act, g.Act)
	if k.AttentionBias != "" {
		m[k.AttentionBias] = bias
	}
	if k.ParallelResidual != "" {
		m[k.ParallelResidual] = g.ParallelResidual
	}
	if g.RopeTheta > 0 {
		m["rope_theta"] = g.RopeTheta
		if g.RopeScaling != nil {
			m["rope_scaling"] = g.RopeScaling
		}
	}
	if g.RotaryFraction > 0 {
		set(k.RotaryFraction, g.RotaryFraction)
	}
	data, err := json.Marshal(m)
	if err != nil {
		panic("reference: Synth: " + err.Error())
	}
	c, err := checkpoint.ParseConfig(data, "synth-config.json")
	if err != nil {
		panic("reference: Synth: " + err.Error())
	}
	return c
}

// Normal returns a float64 graph.Dense of the given shape with values drawn
// from r with mean 0 and standard deviation std.
func Normal(r *rand.Rand, std float64, shape ...int) graph.Tensor {
	n := 1
	for _, x := range shape {
		n *= x
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64() * std
	}
	return graph.NewDense64(v, checkpoint.F64, shape...)
}

// OpenGraph opens a model directory (a checkpoint) as a graph; the checkpoint
// is closed when the test ends.
func OpenGraph(t testing.TB, dir string) *graph.Graph {
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
	return g
}
