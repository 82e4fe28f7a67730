package probe

import (
	"math"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/reference"
)

var synthCases = []struct {
	name string
	s    reference.Spec
}{
	{"gpt2", reference.Spec{Family: graph.FamilyGPT2, D: 8, L: 2, H: 2, I: 32, V: 50, Tied: true}},
	{"gpt2-untied", reference.Spec{Family: graph.FamilyGPT2, D: 6, L: 1, H: 3, I: 12, V: 20}},
	{"llama-mha", reference.Spec{Family: graph.FamilyLlama, D: 16, L: 2, H: 4, I: 40, V: 60, Tied: true}},
	{"llama-gqa", reference.Spec{Family: graph.FamilyLlama, D: 16, L: 2, H: 4, K: 2, HeadDim: 6, I: 24, V: 40}},
	{"llama-mqa-bias", reference.Spec{Family: graph.FamilyLlama, D: 12, L: 3, H: 3, K: 1, I: 20, V: 30, Bias: true, Theta: 500}},
	{"bert-mlm", reference.Spec{Family: graph.FamilyBERT, D: 8, L: 2, H: 2, I: 16, V: 40, MLM: true}},
	{"bert-encoder", reference.Spec{Family: graph.FamilyBERT, D: 8, L: 1, H: 4, I: 16, V: 40}},
	{"bert-tiny", reference.Spec{Family: graph.FamilyBERT, D: 4, L: 1, H: 1, I: 8, V: 12, MLM: true, Act: "gelu"}},
	{"llama-rope-linear", reference.Spec{Family: graph.FamilyLlama, D: 16, L: 2, H: 2, K: 1, I: 24, V: 40,
		RopeScaling: map[string]any{"rope_type": "linear", "factor": 2.0}}},
	// head_dim 8 puts the wavelengths 2π, 20π, 200π, 2000π in all three of llama3's bands
	{"llama-rope-llama3", reference.Spec{Family: graph.FamilyLlama, D: 16, L: 2, H: 2, K: 1, I: 24, V: 40,
		RopeScaling: map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 8.0,
			"original_max_position_embeddings": 1024.0}}},
	// Qwen3: QK-norm, head_dim ≠ hidden/heads (H·d is 24 and 20 here, not 16 and 12).
	{"qwen3-untied", reference.Spec{ModelType: "qwen3", D: 16, L: 2, H: 4, K: 2, HeadDim: 6, I: 24, V: 40}},
	{"qwen3-tied-bias", reference.Spec{ModelType: "qwen3", D: 12, L: 2, H: 2, K: 1, HeadDim: 10, I: 20, V: 30,
		Tied: true, Bias: true, Theta: 1e6}},
	// Phi-3: fused storage is the graph's business; partial rotary is the engine's.
	{"phi3", reference.Spec{ModelType: "phi3", D: 16, L: 2, H: 4, K: 2, I: 24, V: 40}},
	{"phi3-partial-half", reference.Spec{ModelType: "phi3", D: 24, L: 2, H: 2, K: 1, I: 24, V: 40, RotaryFraction: 0.5}},
	{"phi3-partial-tied", reference.Spec{ModelType: "phi3", D: 32, L: 2, H: 4, I: 24, V: 40, RotaryFraction: 0.75,
		Tied: true, RopeScaling: map[string]any{"rope_type": "linear", "factor": 2.0}}},
	// Gemma: (1 + w) norms, embeddings ×sqrt(D), tanh GeGLU, explicit head_dim.
	{"gemma-tied", reference.Spec{ModelType: "gemma", D: 16, L: 2, H: 4, K: 2, HeadDim: 6, I: 24, V: 40, Tied: true}},
	{"gemma-mqa-bias", reference.Spec{ModelType: "gemma", D: 12, L: 2, H: 3, K: 1, HeadDim: 8, I: 20, V: 30, Bias: true}},
	// GPT-NeoX: parallel blocks (and sequential), q, k, v interleaved per
	// head, rotary over a quarter (2 of 8 dims) or half of each head.
	{"gpt_neox-parallel", reference.Spec{ModelType: "gpt_neox", D: 32, L: 2, H: 4, I: 48, V: 40, Bias: true}},
	{"gpt_neox-sequential-half", reference.Spec{ModelType: "gpt_neox", D: 24, L: 2, H: 2, I: 40, V: 40,
		Sequential: true, RotaryFraction: 0.5, Tied: true}},
	// OPT: learned positions with two rows before them, ReLU.
	{"opt", reference.Spec{ModelType: "opt", D: 16, L: 2, H: 4, I: 32, V: 40, P: 24, Tied: true, Bias: true}},
	{"opt-nobias", reference.Spec{ModelType: "opt", D: 12, L: 1, H: 2, I: 20, V: 30, P: 16}},
	// OLMo-2: norms after the sublayers, q and k normalised over H·d and K·d.
	{"olmo2-gqa", reference.Spec{ModelType: "olmo2", D: 16, L: 2, H: 4, K: 2, I: 24, V: 40}},
	{"olmo2-mqa-bias", reference.Spec{ModelType: "olmo2", D: 12, L: 2, H: 3, K: 1, I: 20, V: 30, Bias: true, Tied: true}},
}

// TestForwardMatchesNaive compares the engine (batched, BLAS, fused weights) with
// the one-dot-product-at-a-time float64 forward of internal/reference on random models
// of every family: to 1e-12 in f64, 1e-4 in f32.
func TestForwardMatchesNaive(t *testing.T) {
	seqs := [][]int{{0, 5, 3, 9, 1, 7, 2}, {4}, {3, 3, 3, 1, 0, 11, 2, 8, 10, 6, 5}}
	for _, c := range synthCases {
		t.Run(c.name, func(t *testing.T) {
			c.s.Seed = 7
			g := reference.Synth(c.s)
			for _, p := range []struct {
				prec Precision
				tol  float64
			}{{F64, 1e-12}, {F32, 1e-4}} {
				m, err := New(g, p.prec)
				if err != nil {
					t.Fatal(err)
				}
				rs, err := m.ForwardBatch(seqs)
				if err != nil {
					t.Fatal(err)
				}
				for b, ids := range seqs {
					want := reference.Forward(t, g, ids, nil).Logits
					scale := 0.0
					for _, row := range want {
						for _, v := range row {
							scale = math.Max(scale, math.Abs(v))
						}
					}
					if d := maxAbsDiff(t, rs[b].Logits, want); d > p.tol*math.Max(1, scale) {
						t.Errorf("%s sequence %d: max abs diff %.3g from the naive forward (max |logit| %.3g)", p.prec, b, d, scale)
					}
					if got := len(rs[b].Hidden); got != c.s.L+1 {
						t.Errorf("%d hidden states, want %d", got, c.s.L+1)
					}
				}
			}
		})
	}
}

// TestBatchEqualsSingle: a sequence gives the same outputs alone and in a batch.
func TestBatchEqualsSingle(t *testing.T) {
	g := reference.Synth(reference.Spec{Family: graph.FamilyLlama, D: 16, L: 2, H: 4, K: 2, I: 24, V: 40, Seed: 3})
	m, err := New(g, F64)
	if err != nil {
		t.Fatal(err)
	}
	seqs := [][]int{{1, 2, 3}, {4, 5, 6, 7, 8, 9}, {10}}
	rs, err := m.ForwardBatch(seqs)
	if err != nil {
		t.Fatal(err)
	}
	for b, s := range seqs {
		r, err := m.Forward(s)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(t, r.Logits, rs[b].Logits); d > 1e-13 {
			t.Errorf("sequence %d: batch and single differ by %.3g", b, d)
		}
	}
}

// TestBERTPaddingInvariance: padding a sequence and masking the padding leaves
// the outputs at the real positions unchanged.
func TestBERTPaddingInvariance(t *testing.T) {
	g := reference.Synth(reference.Spec{Family: graph.FamilyBERT, D: 8, L: 2, H: 2, I: 16, V: 40, MLM: true, Seed: 11})
	ids := []int{2, 17, 5, 30, 3}
	padded := append(append([]int(nil), ids...), 0, 0, 0)
	mask := []int{1, 1, 1, 1, 1, 0, 0, 0}
	for _, p := range []struct {
		prec Precision
		tol  float64
	}{{F64, 1e-12}, {F32, 1e-5}} {
		m, err := New(g, p.prec)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := m.Forward(ids)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := m.ForwardBatchMasked([][]int{padded, padded}, [][]int{mask, nil})
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(t, plain.Logits, rs[0].Logits[:len(ids)]); d > p.tol {
			t.Errorf("%s: masked padding changes the logits by %.3g", p.prec, d)
		}
		// Without the mask the padding is attended to: the outputs must change,
		// or the test above proves nothing.
		if d := maxAbsDiff(t, plain.Logits, rs[1].Logits[:len(ids)]); d < 1e-3 {
			t.Errorf("%s: unmasked padding changes the logits by only %.3g", p.prec, d)
		}
		// Same against the naive forward with the mask.
		want := reference.Forward(t, g, padded, mask).Logits
		if d := maxAbsDiff(t, rs[0].Logits, want); d > p.tol*10 {
			t.Errorf("%s: masked batch differs from the naive forward by %.3g", p.prec, d)
		}
	}
}

// TestBERTOneLayerByHand computes a one-layer BERT with D = 2, one head and
// hand-picked weights. With D = 2, LayerNorm maps every vector with x0 ≠ x1 to
// ±(1, -1)·γ + β, so the whole forward can be followed on paper; the
// expectation below is that derivation, written out.
func TestBERTOneLayerByHand(t *testing.T) {
	d64 := func(v []float64, shape ...int) graph.Tensor { return graph.NewDense64(v, checkpoint.F64, shape...) }
	g := &graph.Graph{Family: graph.FamilyBERT, Dims: graph.Dims{Hidden: 2, Layers: 1, Heads: 1, KVHeads: 1,
		HeadDim: 2, FFN: 2, Vocab: 3, Positions: 4, TypeVocab: 1}, NormKind: graph.LayerNorm, Eps: 0, Act: "gelu",
		PostLN: true, Tied: true}
	g.Embed = d64([]float64{1, 0, 0, 1, 3, 1}, 3, 2) // token 0 → (1,0), 1 → (0,1), 2 → (3,1)
	g.Pos = d64(make([]float64, 8), 4, 2)
	g.TokenType = d64(make([]float64, 2), 1, 2)
	unit := graph.Norm{W: d64([]float64{1, 1}, 2), B: d64([]float64{0, 0}, 2)}
	g.EmbedNorm = unit
	zero2 := d64([]float64{0, 0}, 2)
	ly := graph.Layer{AttnNorm: unit, MLPNorm: graph.Norm{W: d64([]float64{2, 2}, 2), B: d64([]float64{0.5, 0}, 2)},
		// q = k = 0: uniform attention; v = identity; o = identity.
		Q: graph.Linear{W: d64(make([]float64, 4), 2, 2), B: zero2},
		K: graph.Linear{W: d64(make([]float64, 4), 2, 2), B: zero2},
		V: graph.Linear{W: d64([]float64{1, 0, 0, 1}, 2, 2), B: zero2},
		O: graph.Linear{W: d64([]float64{1, 0, 0, 1}, 2, 2), B: zero2},
		// up = identity, down = identity.
		Up:   graph.Linear{W: d64([]float64{1, 0, 0, 1}, 2, 2), B: zero2},
		Down: graph.Linear{W: d64([]float64{1, 0, 0, 1}, 2, 2), B: zero2},
	}
	g.Layers = []graph.Layer{ly}
	// Derivation for ids (0, 1): embeddings (1,0), (0,1); embedding LN (eps 0):
	// e0 = (1,-1), e1 = (-1,1). Uniform attention averages v: (0,0) for both
	// positions, so after the residual and LN: (1,-1), (-1,1) again. MLP:
	// gelu(1) = Φ(1) = 0.8413447460685429, gelu(-1) = -(1-Φ(1)) = -0.15865525393145707;
	// position 0: x + gelu(x) = (1.8413447460685429, -1.1586552539314571), whose
	// LN is (1,-1); times γ 2 plus β (0.5, 0) = (2.5, -2). Position 1 mirrors it:
	// (-2+0.5, 2) = (-1.5, 2). No MLM head: these are the outputs.
	want := [][]float64{{2.5, -2}, {-1.5, 2}}
	for _, prec := range []Precision{F64, F32} {
		m, err := New(g, prec)
		if err != nil {
			t.Fatal(err)
		}
		r, err := m.Forward([]int{0, 1})
		if err != nil {
			t.Fatal(err)
		}
		tol := 1e-15
		if prec == F32 {
			tol = 1e-6
		}
		if d := maxAbsDiff(t, r.Logits, want); d > tol {
			t.Errorf("%s: got %v, want %v", prec, r.Logits, want)
		}
	}
	// And ids (2, 0): embeddings (3,1), (1,0) both normalise to (1,-1); attention
	// averages v to (1,-1) for both, residual (2,-2) → LN (1,-1): both positions
	// give (2.5, -2).
	m, _ := New(g, F64)
	r, err := m.Forward([]int{2, 0})
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, r.Logits, [][]float64{{2.5, -2}, {2.5, -2}}); d > 1e-15 {
		t.Errorf("ids (2, 0): got %v", r.Logits)
	}
}

// TestPrecisionsAgree: f32 and f64 agree on every family's synthetic model.
func TestPrecisionsAgree(t *testing.T) {
	for _, c := range synthCases {
		c.s.Seed, c.s.F32 = 5, true
		g := reference.Synth(c.s)
		a, err := New(g, F64)
		if err != nil {
			t.Fatal(err)
		}
		b, err := New(g, F32)
		if err != nil {
			t.Fatal(err)
		}
		ids := []int{1, 2, 3, 4, 5, 6, 7, 8}
		ra, _ := a.Forward(ids)
		rb, _ := b.Forward(ids)
		if d := maxAbsDiff(t, ra.Logits, rb.Logits); d > 1e-4 || d == 0 {
			t.Errorf("%s: f32 and f64 differ by %.3g (want 0 < diff ≤ 1e-4)", c.name, d)
		}
	}
}

// TestNewRefusesInconsistentGraphs: shape and config errors are reported before
// any arithmetic, naming what is wrong.
func TestNewRefusesInconsistentGraphs(t *testing.T) {
	base := reference.Spec{Family: graph.FamilyLlama, D: 16, L: 2, H: 4, K: 2, I: 24, V: 40, Seed: 1}
	cases := []struct {
		name string
		edit func(g *graph.Graph)
		want string
	}{
		{"heads", func(g *graph.Graph) { g.Heads = 8 }, "layers.0.attn.q.weight (\"model.layers.0.self_attn.q_proj.weight\"): shape [16 16], want [32 16]"},
		{"kv heads not dividing", func(g *graph.Graph) { g.KVHeads = 3 }, "not a multiple"},
		{"missing gate", func(g *graph.Graph) { g.Layers[1].Gate.W = nil }, "layers.1.mlp.gate.weight: missing tensor"},
		{"missing norm", func(g *graph.Graph) { g.FinalNorm.W = nil }, "final_norm.weight: missing tensor"},
		{"layer count", func(g *graph.Graph) { g.Layers = g.Layers[:1] }, "graph has 1 layers, dims say 2"},
		{"ffn", func(g *graph.Graph) { g.FFN = 25 }, "layers.0.mlp.up.weight (\"model.layers.0.mlp.up_proj.weight\"): shape [24 16], want [25 16]"},
		{"activation", func(g *graph.Graph) { g.Act = "mish" }, `unknown activation "mish"`},
		{"untied without head", func(g *graph.Graph) { g.Head = nil }, "head: missing tensor"},
		{"rope scaling", func(g *graph.Graph) { g.RopeScaling = map[string]any{"rope_type": "yarn", "factor": 4.0} },
			`rope_scaling type "yarn" is not supported`},
		{"one bias", func(g *graph.Graph) {
			g.Layers[0].Q.B = graph.NewDense64(make([]float64, 16), checkpoint.F64, 16)
		}, "1 of the q, k, v biases"},
	}
	qwen3 := reference.Spec{ModelType: "qwen3", D: 16, L: 2, H: 4, K: 2, HeadDim: 6, I: 24, V: 40, Seed: 1}
	phi3 := reference.Spec{ModelType: "phi3", D: 16, L: 2, H: 2, K: 1, I: 24, V: 40, Seed: 1}
	for _, c := range []struct {
		name string
		spec reference.Spec
		edit func(g *graph.Graph)
		want string
	}{
		{"qwen3 missing q_norm", qwen3, func(g *graph.Graph) { g.Layers[1].QNorm.W = nil }, "layers.1.attn.q_norm.weight: missing tensor"},
		{"qwen3 k_norm over the hidden width", qwen3, func(g *graph.Graph) {
			g.Layers[0].KNorm.W = graph.NewDense64(make([]float64, 16), checkpoint.F64, 16)
		}, `layers.0.attn.k_norm.weight ("model.layers.0.self_attn.k_norm.weight"): shape [16], want [6] = [d] (head dim d=6)`},
		{"qwen3 q_norm bias", qwen3, func(g *graph.Graph) {
			g.Layers[0].QNorm.B = graph.NewDense64(make([]float64, 6), checkpoint.F64, 6)
		}, "layers.0.attn.q_norm.bias: an RMSNorm has no bias"},
		{"llama with q_norm", base, func(g *graph.Graph) {
			g.Layers[0].QNorm.W = graph.NewDense64(make([]float64, 4), checkpoint.F64, 4)
		}, "layers.0.attn.{q,k}_norm: llama has no QK-norm of this kind"},
		{"phi3 odd rotary dims", phi3, func(g *graph.Graph) { g.RotaryFraction = 0.375 },
			"rotary dims int(head dim 8 × rotary fraction 0.375) = 3"},
		{"phi3 no rotary dims", phi3, func(g *graph.Graph) { g.RotaryFraction = 0.1 },
			"rotary dims int(head dim 8 × rotary fraction 0.1) = 0"},
		{"phi3 longrope", phi3, func(g *graph.Graph) {
			g.RopeScaling = map[string]any{"rope_type": "longrope", "short_factor": []any{1.0}, "long_factor": []any{1.0}}
		}, `rope_scaling type "longrope" is not supported`},
	} {
		cases = append(cases, struct {
			name string
			edit func(g *graph.Graph)
			want string
		}{c.name, func(g *graph.Graph) {
			*g = *reference.Synth(c.spec)
			c.edit(g)
		}, c.want})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := reference.Synth(base)
			c.edit(g)
			_, err := New(g, F64)
			if err == nil {
				t.Fatal("New accepted the graph")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
	// And the ids are checked.
	m, err := New(reference.Synth(base), F64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Forward([]int{1, 40}); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
		t.Errorf("id 40 of a 40-token vocabulary: %v", err)
	}
}

// TestLlama3RopeScaling checks transformers' llama3 frequency rule on Llama-3.1's
// parameters: short wavelengths unchanged, long ones divided by the factor, the
// band between interpolated.
func TestLlama3RopeScaling(t *testing.T) {
	sc := map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
		"original_max_position_embeddings": 8192.0}
	plain, err := ropeInvFreq(500000, 128, nil)
	if err != nil {
		t.Fatal(err)
	}
	scaled, err := ropeInvFreq(500000, 128, sc)
	if err != nil {
		t.Fatal(err)
	}
	var hi, lo, mid int
	for j := range plain {
		wave := 2 * math.Pi / plain[j]
		switch {
		case wave < 8192/4.0:
			hi++
			if scaled[j] != plain[j] {
				t.Errorf("j=%d (wavelength %.0f): %g, want unchanged %g", j, wave, scaled[j], plain[j])
			}
		case wave > 8192:
			lo++
			if math.Abs(scaled[j]-plain[j]/8) > 1e-18 {
				t.Errorf("j=%d (wavelength %.0f): %g, want %g/8", j, wave, scaled[j], plain[j])
			}
		default:
			mid++
			s := (8192/wave - 1) / (4 - 1)
			want := (1-s)*plain[j]/8 + s*plain[j]
			if math.Abs(scaled[j]-want) > 1e-15*want || !(scaled[j] < plain[j] && scaled[j] > plain[j]/8) {
				t.Errorf("j=%d (wavelength %.0f): %g, want %g", j, wave, scaled[j], want)
			}
		}
	}
	if hi == 0 || lo == 0 || mid == 0 {
		t.Errorf("bands: %d high, %d low, %d medium frequencies; want all three", hi, lo, mid)
	}
}

// TestSlidingWindowRefused: a Mistral config with a sliding window runs
// sequences within the window and refuses longer ones (rather than silently
// attending to the whole prefix); Qwen2 without use_sliding_window has none.
func TestSlidingWindowRefused(t *testing.T) {
	for _, c := range []struct {
		extra  string
		window int
	}{
		{`"model_type": "mistral", "sliding_window": 4`, 4},
		{`"model_type": "mistral", "sliding_window": null`, 0},
		{`"model_type": "qwen2", "sliding_window": 4, "use_sliding_window": false`, 0},
		{`"model_type": "qwen2", "sliding_window": 4, "use_sliding_window": true, "max_window_layers": 1`, 4},
	} {
		cfg, err := checkpoint.ParseConfig([]byte(`{`+c.extra+`, "hidden_size": 16, "num_hidden_layers": 2,
			"num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 24, "vocab_size": 40,
			"max_position_embeddings": 64, "rms_norm_eps": 1e-5, "hidden_act": "silu", "rope_theta": 10000}`), "config.json")
		if err != nil {
			t.Fatal(err)
		}
		g := reference.Synth(reference.Spec{Family: graph.FamilyLlama, D: 16, L: 2, H: 4, K: 2, I: 24, V: 40, Seed: 1})
		g.Config = cfg
		m, err := New(g, F64)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Forward([]int{1, 2, 3, 4}); err != nil {
			t.Errorf("%s: 4 tokens: %v", c.extra, err)
		}
		_, err = m.Forward([]int{1, 2, 3, 4, 5})
		if (err != nil) != (c.window > 0) {
			t.Errorf("%s: 5 tokens: %v (window %d)", c.extra, err, c.window)
		}
	}
	// Qwen3 reads the windows as Qwen2, Phi-3 as Mistral.
	for _, c := range []struct {
		spec   reference.Spec
		extra  string
		window int
	}{
		{reference.Spec{ModelType: "qwen3", HeadDim: 4}, `"model_type": "qwen3", "head_dim": 4, "sliding_window": 4, "use_sliding_window": false`, 0},
		{reference.Spec{ModelType: "qwen3", HeadDim: 4}, `"model_type": "qwen3", "head_dim": 4, "sliding_window": 4, "use_sliding_window": true, "max_window_layers": 1`, 4},
		{reference.Spec{ModelType: "phi3"}, `"model_type": "phi3", "sliding_window": 4`, 4},
		{reference.Spec{ModelType: "phi3"}, `"model_type": "phi3", "sliding_window": null`, 0},
	} {
		cfg, err := checkpoint.ParseConfig([]byte(`{`+c.extra+`, "hidden_size": 16, "num_hidden_layers": 2,
			"num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 24, "vocab_size": 40,
			"max_position_embeddings": 64, "rms_norm_eps": 1e-5, "hidden_act": "silu", "rope_theta": 10000}`), "config.json")
		if err != nil {
			t.Fatal(err)
		}
		s := c.spec
		s.D, s.L, s.H, s.K, s.I, s.V, s.Seed = 16, 2, 4, 2, 24, 40, 1
		g := reference.Synth(s)
		g.Config = cfg
		m, err := New(g, F64)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Forward([]int{1, 2, 3, 4}); err != nil {
			t.Errorf("%s: 4 tokens: %v", c.extra, err)
		}
		_, err = m.Forward([]int{1, 2, 3, 4, 5})
		if (err != nil) != (c.window > 0) {
			t.Errorf("%s: 5 tokens: %v (window %d)", c.extra, err, c.window)
		}
	}
}

// OPT counts its learned positions over the kept positions of the attention
// mask (a left-padded sequence starts at position 0 after its padding): a
// mask with zeros is refused rather than computed with unshifted positions;
// a mask of ones runs.
func TestPositionsFromMaskRefused(t *testing.T) {
	g := reference.Synth(reference.Spec{ModelType: "opt", D: 8, L: 1, H: 2, I: 16, V: 20, P: 8})
	m, err := New(g, F64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ForwardBatchMasked([][]int{{1, 2, 3}}, [][]int{{0, 1, 1}}); err == nil ||
		!strings.Contains(err.Error(), "counts its learned positions over the mask's kept positions") {
		t.Errorf("error %v", err)
	}
	if _, err := m.ForwardBatchMasked([][]int{{1, 2, 3}}, [][]int{{1, 1, 1}}); err != nil {
		t.Error(err)
	}
}
