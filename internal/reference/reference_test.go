package reference

import (
	"math"
	"slices"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
)

func maxDiff(a, b [][]float64) float64 {
	m := 0.0
	for i := range a {
		for j := range a[i] {
			m = math.Max(m, math.Abs(a[i][j]-b[i][j]))
		}
	}
	return m
}

// Every family's synthetic model runs, with L+1 hidden states of width D and
// outputs of the vocabulary's width (the hidden width for a BERT encoder).
func TestSynthShapes(t *testing.T) {
	for _, c := range []struct {
		name  string
		s     Spec
		width int
	}{
		{"gpt2", Spec{Family: graph.FamilyGPT2, D: 8, L: 2, H: 2, I: 16, V: 30, Tied: true}, 30},
		{"llama-gqa-f32", Spec{Family: graph.FamilyLlama, D: 16, L: 3, H: 4, K: 2, HeadDim: 6, I: 24, V: 40, F32: true}, 40},
		{"bert-mlm", Spec{Family: graph.FamilyBERT, D: 8, L: 1, H: 2, I: 16, V: 20, MLM: true}, 20},
		{"bert-encoder", Spec{Family: graph.FamilyBERT, D: 8, L: 1, H: 2, I: 16, V: 20}, 8},
		{"qwen3", Spec{ModelType: "qwen3", D: 16, L: 2, H: 4, K: 2, HeadDim: 6, I: 24, V: 40}, 40},
		{"phi3-partial", Spec{ModelType: "phi3", D: 16, L: 2, H: 2, K: 1, I: 24, V: 40, RotaryFraction: 0.5}, 40},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := Forward(t, Synth(c.s), []int{1, 2, 3, 4, 5}, nil)
			if len(out.Hidden) != c.s.L+1 {
				t.Errorf("%d hidden states, want %d", len(out.Hidden), c.s.L+1)
			}
			for _, h := range out.Hidden {
				if len(h) != 5 || len(h[4]) != c.s.D {
					t.Fatalf("hidden state %d×%d, want 5×%d", len(h), len(h[4]), c.s.D)
				}
			}
			if len(out.Logits) != 5 || len(out.Logits[0]) != c.width {
				t.Errorf("outputs %d×%d, want 5×%d", len(out.Logits), len(out.Logits[0]), c.width)
			}
		})
	}
}

// Decoders are causal: the outputs at a position do not depend on later
// tokens. BERT attends both ways, and masked positions do not count.
func TestAttentionMasks(t *testing.T) {
	ids, other := []int{3, 1, 4, 1, 5, 9}, []int{3, 1, 4, 2, 6, 5}
	for _, s := range []Spec{
		{Family: graph.FamilyGPT2, D: 8, L: 2, H: 2, I: 16, V: 12, Tied: true, Seed: 1},
		{Family: graph.FamilyLlama, D: 8, L: 2, H: 4, K: 1, I: 16, V: 12, Bias: true, Seed: 1},
	} {
		g := Synth(s)
		a, b := Forward(t, g, ids, nil), Forward(t, g, other, nil)
		if d := maxDiff(a.Logits[:3], b.Logits[:3]); d != 0 {
			t.Errorf("%s: changing tokens 3.. changes the outputs at 0..2 by %.3g", s.Family, d)
		}
		if d := maxDiff(a.Logits[3:], b.Logits[3:]); d < 1e-6 {
			t.Errorf("%s: changing tokens 3.. changes their outputs by only %.3g", s.Family, d)
		}
	}
	g := Synth(Spec{Family: graph.FamilyBERT, D: 8, L: 2, H: 2, I: 16, V: 12, MLM: true, Seed: 1})
	a, b := Forward(t, g, ids, nil), Forward(t, g, other, nil)
	if d := maxDiff(a.Logits[:3], b.Logits[:3]); d < 1e-6 {
		t.Errorf("bert: changing tokens 3.. changes the outputs at 0..2 by only %.3g", d)
	}
	mask := []int{1, 1, 1, 0, 0, 0}
	a, b = Forward(t, g, ids, mask), Forward(t, g, other, mask)
	if d := maxDiff(a.Logits[:3], b.Logits[:3]); d != 0 {
		t.Errorf("bert: masked tokens change the outputs by %.3g", d)
	}
	if d := maxDiff(a.Logits[:3], Forward(t, g, ids[:3], nil).Logits); d > 1e-12 {
		t.Errorf("bert: masking differs from truncating by %.3g", d)
	}
}

// Grouped-query attention equals multi-head attention with each kv head
// repeated for its group.
func TestGQAEqualsRepeatedKV(t *testing.T) {
	g := Synth(Spec{Family: graph.FamilyLlama, D: 12, L: 2, H: 6, K: 2, I: 20, V: 16, Bias: true, Seed: 3})
	const d, group = 2, 3
	repeat := func(l graph.Linear) graph.Linear {
		w, b := Values(t, l.W), Values(t, l.B)
		var w2, b2 []float64
		for h := 0; h < 6; h++ {
			kh := h / group
			w2 = append(w2, w[kh*d*12:(kh+1)*d*12]...)
			b2 = append(b2, b[kh*d:(kh+1)*d]...)
		}
		return graph.Linear{W: graph.NewDense64(w2, checkpoint.F64, 6*d, 12), B: graph.NewDense64(b2, checkpoint.F64, 6*d)}
	}
	mha := *g
	mha.KVHeads = 6
	mha.Layers = append([]graph.Layer(nil), g.Layers...)
	for i := range mha.Layers {
		mha.Layers[i].K, mha.Layers[i].V = repeat(g.Layers[i].K), repeat(g.Layers[i].V)
	}
	ids := []int{1, 7, 3, 15, 0}
	if d := maxDiff(Forward(t, g, ids, nil).Logits, Forward(t, &mha, ids, nil).Logits); d > 1e-12 {
		t.Errorf("GQA and repeated kv heads differ by %.3g", d)
	}
}

// rope_scaling on θ = 10000, d = 8 (frequencies 1, 0.1, 0.01, 0.001;
// wavelengths 2π, 20π, 200π, 2000π): "linear" divides every frequency by the
// factor; "llama3" with original 1024 positions, low factor 1 and high factor 8
// keeps wavelengths under 128, divides those over 1024 by the factor, and
// interpolates 200π between the two with s = (1024/200π - 1)/(8 - 1).
func TestRopeScaling(t *testing.T) {
	s := (1024/(200*math.Pi) - 1) / 7
	for _, c := range []struct {
		name    string
		scaling map[string]any
		want    []float64
	}{
		{"none", nil, []float64{1, 0.1, 0.01, 0.001}},
		{"default", map[string]any{"rope_type": "default"}, []float64{1, 0.1, 0.01, 0.001}},
		{"linear", map[string]any{"type": "linear", "factor": 4.0}, []float64{0.25, 0.025, 0.0025, 0.00025}},
		{"llama3", map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 8,
			"original_max_position_embeddings": 1024}, []float64{1, 0.1, (1-s)*0.01/8 + s*0.01, 0.001 / 8}},
	} {
		got := ropeFreqs(t, 10000, 8, c.scaling)
		for j := range c.want {
			if math.Abs(got[j]-c.want[j]) > 1e-15*c.want[j] {
				t.Errorf("%s: frequencies %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
	// RoPE is a rotation: it keeps every head's norm, and position 0 is the identity.
	v := []float64{1, 2, 3, 4, -1, 0.5, 2, -3}
	n0 := 0.0
	for _, x := range v {
		n0 += x * x
	}
	freqs := ropeFreqs(t, 500, 4, nil)
	w := append([]float64(nil), v...)
	if rope(w, 4, 0, freqs); maxDiff([][]float64{w}, [][]float64{v}) != 0 {
		t.Errorf("rope at position 0: %v, want %v", w, v)
	}
	rope(v, 4, 37, freqs)
	n1 := 0.0
	for _, x := range v {
		n1 += x * x
	}
	if math.Abs(n1-n0) > 1e-12 {
		t.Errorf("rope changes the norm: %g -> %g", n0, n1)
	}
}

// Qwen3's QK-norm and Phi-3's partial rotary change what the model computes
// (their tests are not vacuous), and the dims partial rotary passes through
// are left as they are.
func TestQKNormAndPartialRotary(t *testing.T) {
	ids := []int{3, 1, 4, 1, 5, 9}
	q := Synth(Spec{ModelType: "qwen3", D: 16, L: 2, H: 4, K: 2, HeadDim: 6, I: 24, V: 40, Seed: 2})
	if q.Config == nil || q.Config.ModelType != "qwen3" || q.Layers[1].QNorm.W == nil || len(Values(t, q.Layers[1].KNorm.W)) != 6 {
		t.Fatalf("qwen3 synth: config %v, q_norm %v", q.Config, q.Layers[1].QNorm)
	}
	plain := *q
	plain.Layers = append([]graph.Layer(nil), q.Layers...)
	for i := range plain.Layers {
		plain.Layers[i].QNorm, plain.Layers[i].KNorm = graph.Norm{}, graph.Norm{}
	}
	if d := maxDiff(Forward(t, q, ids, nil).Logits, Forward(t, &plain, ids, nil).Logits); d < 1e-3 {
		t.Errorf("QK-norm changes the logits by only %.3g", d)
	}
	// Bias turns the config's switch on: q, k, v and o biases for Qwen3, none for Phi-3 (no switch).
	qb := Synth(Spec{ModelType: "qwen3", D: 16, L: 1, H: 4, K: 2, HeadDim: 6, I: 24, V: 40, Bias: true})
	pb := Synth(Spec{ModelType: "phi3", D: 16, L: 1, H: 4, K: 2, I: 24, V: 40, Bias: true})
	if l := qb.Layers[0]; l.Q.B == nil || l.K.B == nil || l.V.B == nil || l.O.B == nil || !qb.Config.AttentionBias {
		t.Errorf("qwen3 with Bias: biases q %v k %v v %v o %v, attention_bias %v", l.Q.B != nil, l.K.B != nil, l.V.B != nil, l.O.B != nil, qb.Config.AttentionBias)
	}
	if l := pb.Layers[0]; l.Q.B != nil || l.O.B != nil {
		t.Errorf("phi3 with Bias has biases")
	}
	p := Synth(Spec{ModelType: "phi3", D: 16, L: 2, H: 2, K: 1, I: 24, V: 40, RotaryFraction: 0.5, Seed: 2})
	full := *p
	full.RotaryFraction = 1
	if d := maxDiff(Forward(t, p, ids, nil).Logits, Forward(t, &full, ids, nil).Logits); d < 1e-3 {
		t.Errorf("partial rotary changes the logits by only %.3g", d)
	}
	// Two 8-wide heads, the first 4 dims of each rotated.
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4, -5, -6, -7, -8}
	w := append([]float64(nil), v...)
	rope(w, 8, 5, ropeFreqs(t, 100, 4, nil))
	for h := 0; h < 2; h++ {
		if !slices.Equal(w[h*8+4:h*8+8], v[h*8+4:h*8+8]) || slices.Equal(w[h*8:h*8+4], v[h*8:h*8+4]) {
			t.Errorf("head %d: %v → %v", h, v[h*8:h*8+8], w[h*8:h*8+8])
		}
	}
}

// Gemma's features by equivalence: a Gemma model computes what a LLaMA
// model computes whose norm gains are 1 + w and whose embeddings are
// multiplied by sqrt(hidden) (the head untied, so that only the input is
// scaled).
func TestGemmaEqualsScaledLlama(t *testing.T) {
	ids := []int{3, 1, 4, 1, 5, 9}
	gm := Synth(Spec{ModelType: "gemma", D: 16, L: 2, H: 4, K: 2, HeadDim: 6, I: 24, V: 40, Seed: 4})
	ll := Synth(Spec{ModelType: "llama", D: 16, L: 2, H: 4, K: 2, HeadDim: 6, I: 24, V: 40, Seed: 4})
	plus1 := func(n graph.Norm) graph.Norm {
		w := Values(t, n.W)
		out := make([]float64, len(w))
		for i, x := range w {
			out[i] = 1 + x
		}
		return graph.Norm{W: graph.NewDense64(out, checkpoint.F64, len(out))}
	}
	ll.Act, ll.Head = gm.Act, gm.Head
	emb := Values(t, gm.Embed)
	scaled := make([]float64, len(emb))
	for i, x := range emb {
		scaled[i] = x * math.Sqrt(16)
	}
	ll.Embed = graph.NewDense64(scaled, checkpoint.F64, 40, 16)
	for i, l := range gm.Layers {
		l.AttnNorm, l.MLPNorm = plus1(l.AttnNorm), plus1(l.MLPNorm)
		ll.Layers[i] = l
	}
	ll.FinalNorm = plus1(gm.FinalNorm)
	a, b := Forward(t, gm, ids, nil), Forward(t, ll, ids, nil)
	if d := maxDiff(a.Logits, b.Logits); d > 1e-12 {
		t.Errorf("Gemma and the scaled LLaMA differ by %.3g", d)
	}
	if d := maxDiff(a.Hidden[0], b.Hidden[0]); d > 1e-12 {
		t.Errorf("hidden state 0 differs by %.3g: the scaled embeddings are the stream", d)
	}
}

// GPT-NeoX's parallel block: with the attention's output projection zero
// it is the sequential block (both add only the MLP of the block's input),
// and with weights it is not.
func TestParallelResidual(t *testing.T) {
	ids := []int{3, 1, 4, 1, 5, 9}
	par := Synth(Spec{ModelType: "gpt_neox", D: 16, L: 2, H: 2, I: 24, V: 40, Bias: true, Seed: 6})
	seq := *par
	seq.ParallelResidual = false
	if d := maxDiff(Forward(t, par, ids, nil).Logits, Forward(t, &seq, ids, nil).Logits); d < 1e-3 {
		t.Errorf("parallel blocks change the logits by only %.3g", d)
	}
	zero := func(g *graph.Graph) *graph.Graph {
		c := *g
		c.Layers = append([]graph.Layer(nil), g.Layers...)
		for i := range c.Layers {
			c.Layers[i].O = graph.Linear{W: graph.NewDense64(make([]float64, 16*16), checkpoint.F64, 16, 16)}
		}
		return &c
	}
	if d := maxDiff(Forward(t, zero(par), ids, nil).Logits, Forward(t, zero(&seq), ids, nil).Logits); d > 1e-12 {
		t.Errorf("without attention output, parallel and sequential blocks differ by %.3g", d)
	}
}

// OLMo-2's norms: the QK-norm over the whole q and k changes what the model
// computes, and a block whose output projections are zero adds nothing
// through the norms after its sublayers (the norm of a zero vector is
// zero).
func TestOLMo2Norms(t *testing.T) {
	ids := []int{3, 1, 4, 1, 5, 9}
	g := Synth(Spec{ModelType: "olmo2", D: 16, L: 2, H: 4, K: 2, I: 24, V: 40, Seed: 8})
	if l := g.Layers[0]; l.AttnNorm.W != nil || l.AttnOutNorm.W == nil || len(Values(t, l.QProjNorm.W)) != 16 || len(Values(t, l.KProjNorm.W)) != 8 {
		t.Fatalf("olmo2 synth layer %+v", l)
	}
	c := *g
	c.Layers = append([]graph.Layer(nil), g.Layers...)
	for i := range c.Layers {
		c.Layers[i].QProjNorm, c.Layers[i].KProjNorm = graph.Norm{}, graph.Norm{}
	}
	if d := maxDiff(Forward(t, g, ids, nil).Logits, Forward(t, &c, ids, nil).Logits); d < 1e-3 {
		t.Errorf("the whole-projection QK-norm changes the logits by only %.3g", d)
	}
	z := *g
	z.Layers = append([]graph.Layer(nil), g.Layers...)
	z.Layers[1].O = graph.Linear{W: graph.NewDense64(make([]float64, 16*16), checkpoint.F64, 16, 16)}
	z.Layers[1].Down = graph.Linear{W: graph.NewDense64(make([]float64, 16*24), checkpoint.F64, 16, 24)}
	a, b := Forward(t, g, ids, nil), Forward(t, &z, ids, nil)
	if d := maxDiff(a.Hidden[1], b.Hidden[2]); d != 0 {
		t.Errorf("a block with zero outputs changes the stream by %.3g", d)
	}
}
