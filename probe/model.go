package probe

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/graph/family"
)

// float is the element type of a forward pass.
type float interface{ float32 | float64 }

// arch is everything about a graph's computation that is not a weight.
type arch struct {
	D, L    int
	H, K, d int
	I, V, P int
	eps     float64
	act     func(float64) float64
	actName string
	postLN  bool
	rms     bool
	causal  bool
	rope    bool
	// rot is how many dims of each head RoPE rotates (the first rot; d
	// unless the family's config asks for partial rotary).
	rot int
	// qkNorm: each query and key head is normalised after its projection
	// and before RoPE (Features.QKNorm); qkWhole: the whole query and key
	// projections are, instead of each head (Features.QKNormWhole).
	qkNorm, qkWhole bool
	// plusOne: norms multiply by (1 + w) (Features.NormPlusOne).
	plusOne bool
	// embScale multiplies the token embeddings (Graph.EmbedScale).
	embScale float64
	// parallel: attention and the MLP read the block's input and both add
	// to it (Graph.ParallelResidual); outNorms: each sublayer's output is
	// normalised before it is added, and no norm precedes it
	// (family.NormsOut).
	parallel, outNorms bool
	// posFromMask: learned positions count the kept positions of a mask
	// (Features.PositionsFromMask).
	posFromMask bool
	gated       bool
	learned     bool // learned absolute positions
	// attnScale[l] multiplies q·k in layer l.
	attnScale []float64
	// mlmHead: the family's output head is BERT's optional masked-LM head;
	// hasMLM: the graph has it.
	mlmHead bool
	hasMLM  bool
	// headless: a base model (GPT2Model, LlamaModel) whose output is its last
	// hidden state after the final norm.
	headless bool
	// tokenTypes and embedNorm: the family adds token-type embeddings and
	// normalises the embeddings (BERT).
	tokenTypes, embedNorm bool
	outWidth              int // width of Result.Logits rows
	// window is the smallest sliding attention window of any layer (0: none).
	// The engine attends to the whole causal prefix, so it refuses sequences
	// longer than the window instead of computing something else.
	window int
}

type norm[T float] struct{ w, b []T }

type layerW[T float] struct {
	attnNorm, mlpNorm norm[T]
	// attnOut and mlpOut normalise the sublayers' outputs (family.NormsOut).
	attnOut, mlpOut norm[T]
	// qNorm and kNorm normalise each query and key head (QK-norm), or the
	// whole query and key projections (arch.qkWhole).
	qNorm, kNorm norm[T]
	// qkv is the fused [D, (H+2K)·d] projection (q | k | v).
	qkv linear[T]
	o   linear[T]
	// up is [D, I], or the fused [D, 2I] (gate | up) of a gated MLP.
	up   linear[T]
	down linear[T]
}

// weights are a model's weights in precision T: the matrices resident or
// streamed (matrix), everything else (norms, biases, learned positions and
// token types) decoded.
type weights[T float] struct {
	embed        matrix[T] // [V, D]
	pos, tokType []T       // [P, D], [T, D] row-major
	embNorm      norm[T]
	layers       []layerW[T]
	final        norm[T]
	head         linear[T] // [V, D], the embedding's matrix when tied
	mlm          linear[T]
	mlmNorm      norm[T]
}

// New validates g and decodes its weights once in the given precision (F64
// upcasts every dtype exactly; F32 is exact for F32, F16 and BF16 inputs). It
// refuses, before any arithmetic, a graph whose tensors disagree with its dims or
// config, a missing tensor, or an activation or RoPE scaling it does not know.
// The model holds every weight: passes run at once, and many of them (greedy
// decoding, calibration) read nothing again.
func New(g *graph.Graph, prec Precision) (*Model, error) { return newModel(g, prec, false) }

// Open is New for a model read as it runs: only the vectors (norms, biases,
// learned positions) are decoded now; every pass reads each weight matrix
// block by block from the graph's tensors (for a checkpoint, from the file
// or the page cache), holding one block of at most a few tens of MB at a
// time. Its memory is that of the vectors, the activations of the pass and
// one block, flat in the number of layers, so a model larger than memory
// can be run. Values are those of New, bit for bit.
func Open(g *graph.Graph, prec Precision) (*Model, error) { return newModel(g, prec, true) }

// Streamed reports whether the model reads its weight matrices as it runs
// (Open).
func (m *Model) Streamed() bool { return m.stream }

func newModel(g *graph.Graph, prec Precision, stream bool) (*Model, error) {
	if g == nil {
		return nil, fmt.Errorf("probe: nil graph")
	}
	if prec == "" {
		prec = F64
	}
	if prec != F32 && prec != F64 {
		return nil, fmt.Errorf("probe: unknown precision %q (want f32 or f64)", prec)
	}
	a, err := validate(g)
	if err != nil {
		return nil, err
	}
	m := &Model{g: g, prec: prec, arch: *a, stream: stream}
	if prec == F32 {
		m.arch.act = activation32(g.Act, a.act)
	}
	if a.rope {
		inv, err := ropeInvFreq(g.RopeTheta, a.rot, g.RopeScaling)
		if err != nil {
			return nil, fmt.Errorf("probe: %s: %w", modelName(g), err)
		}
		m.invFreq = inv
	}
	switch prec {
	case F32:
		m.w32, err = decode[float32](g, a, stream)
	default:
		m.w64, err = decode[float64](g, a, stream)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Graph returns the graph the model was built from.
func (m *Model) Graph() *graph.Graph { return m.g }

// Precision returns the model's arithmetic.
func (m *Model) Precision() Precision { return m.prec }

// Vocab returns the vocabulary size (the number of valid input ids).
func (m *Model) Vocab() int { return m.arch.V }

// OutputWidth returns the length of a Result.Logits row: the vocabulary size, or
// the hidden size for a BERT without an MLM head.
func (m *Model) OutputWidth() int { return m.arch.outWidth }

// HasLMHead reports whether Result.Logits are logits over the vocabulary (false
// for a BERT without an MLM head, whose outputs are the last hidden state).
func (m *Model) HasLMHead() bool { return !m.arch.headless && (!m.arch.mlmHead || m.arch.hasMLM) }

// MaxPositions returns the longest sequence the model accepts: the learned
// position table's length, or max_position_embeddings for RoPE (0: no limit).
func (m *Model) MaxPositions() int {
	return max(m.arch.P, 0)
}

func modelName(g *graph.Graph) string {
	if g.Config != nil && g.Config.Name != "" {
		return fmt.Sprintf("%s (%s)", g.Config.Name, g.Family)
	}
	return fmt.Sprintf("%s model", g.Family)
}

// activation returns the function of a config activation name.
func activation(name string) (func(float64) float64, error) {
	switch strings.ToLower(name) {
	case "gelu":
		return geluErf, nil
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
		return geluTanh, nil
	case "silu", "swish":
		return silu, nil
	case "relu":
		return relu, nil
	case "quick_gelu":
		return quickGelu, nil
	}
	return nil, fmt.Errorf("unknown activation %q (want gelu, gelu_new, gelu_pytorch_tanh, silu, relu or quick_gelu)", name)
}

// activation32 swaps in the float32-grade variant of an activation where one
// is cheaper (the exponential of SiLU and quick GELU).
func activation32(name string, f func(float64) float64) func(float64) float64 {
	switch strings.ToLower(name) {
	case "silu", "swish":
		return func(x float64) float64 { return x / (1 + exp32(-x)) }
	case "quick_gelu":
		return func(x float64) float64 { return x / (1 + exp32(-1.702*x)) }
	}
	return f
}

func geluErf(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

func geluTanh(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

func silu(x float64) float64 { return x / (1 + fastExp(-x)) }

func relu(x float64) float64 { return math.Max(x, 0) }

func quickGelu(x float64) float64 { return x / (1 + fastExp(-1.702*x)) }

// roleNames maps each tensor of the graph to its checkpoint names, where the
// graph can say (for error messages).
func roleNames(g *graph.Graph) map[graph.Tensor]string {
	out := map[graph.Tensor]string{}
	for _, r := range g.Roles() {
		if r.T == nil || !reflect.TypeOf(r.T).Comparable() || len(r.Names) == 0 {
			continue
		}
		out[r.T] = strings.Join(r.Names, "+")
	}
	return out
}

type validator struct {
	g     *graph.Graph
	names map[graph.Tensor]string
	errs  []string
}

func (v *validator) fail(format string, args ...any) {
	v.errs = append(v.errs, fmt.Sprintf(format, args...))
}

// shape checks that t exists (unless optional) and has the wanted shape; why
// explains where the wanted shape comes from.
func (v *validator) shape(role string, t graph.Tensor, optional bool, why string, want ...int) {
	if t == nil || (reflect.ValueOf(t).Kind() == reflect.Pointer && reflect.ValueOf(t).IsNil()) {
		if !optional {
			v.fail("%s: missing tensor (want shape %v = %s)", role, want, why)
		}
		return
	}
	got := t.Shape()
	if !slices.Equal(got, want) {
		name := ""
		if reflect.TypeOf(t).Comparable() {
			if n, ok := v.names[t]; ok {
				name = fmt.Sprintf(" (%q)", n)
			}
		}
		v.fail("%s%s: shape %v, want %v = %s", role, name, got, want, why)
	}
}

func isNil(t graph.Tensor) bool {
	return t == nil || (reflect.ValueOf(t).Kind() == reflect.Pointer && reflect.ValueOf(t).IsNil())
}

// validate checks the graph's dims against its config and every tensor against
// the dims, and returns the computation's description.
func validate(g *graph.Graph) (*arch, error) {
	v := &validator{g: g, names: roleNames(g)}
	r := rolesOf(g)
	desc := g.Descriptor()
	if desc == nil {
		return nil, fmt.Errorf("probe: %s: unknown family %q", modelName(g), g.Family)
	}
	ft := desc.Features
	a := &arch{D: g.Hidden, L: g.Dims.Layers, H: g.Heads, K: g.KVHeads, d: g.HeadDim,
		I: g.FFN, V: g.Vocab, P: g.Positions, eps: g.Eps, postLN: g.PostLN, actName: g.Act,
		causal: ft.Causal, learned: ft.Positions == family.Learned, rope: ft.Positions == family.Rotary,
		gated: ft.GatedMLP, rms: ft.Norm == family.RMSNorm, mlmHead: ft.MLMHead,
		tokenTypes: ft.TokenTypes, embedNorm: ft.EmbedNorm, qkNorm: ft.QKNorm, rot: g.RotaryDim(),
		qkWhole: ft.QKNorm && ft.QKNormWhole, plusOne: ft.NormPlusOne, embScale: g.EmbedScale(),
		parallel: g.ParallelResidual, outNorms: ft.BlockNorms == family.NormsOut, posFromMask: ft.PositionsFromMask}
	v.features(g, desc)
	if f, err := activation(g.Act); err != nil {
		v.fail("%v", err)
	} else {
		a.act = f
	}
	// Dims must be positive and consistent.
	for _, p := range []struct {
		name string
		n    int
	}{{"hidden size", a.D}, {"layers", a.L}, {"attention heads", a.H}, {"key/value heads", a.K},
		{"head dim", a.d}, {"FFN size", a.I}, {"vocabulary size", a.V}} {
		if p.n <= 0 {
			v.fail("%s is %d (want > 0)", p.name, p.n)
		}
	}
	if a.learned && a.P <= 0 {
		v.fail("positions is %d (want > 0 for learned position embeddings)", a.P)
	}
	if a.H > 0 && a.K > 0 && a.H%a.K != 0 {
		v.fail("attention heads %d is not a multiple of key/value heads %d", a.H, a.K)
	}
	if a.rope && a.rot == a.d && a.d%2 != 0 {
		v.fail("head dim %d is odd (RoPE needs an even head dim)", a.d)
	}
	if a.rope && a.rot != a.d && (a.rot <= 0 || a.rot%2 != 0 || a.rot > a.d) {
		f := g.RotaryFraction
		if f == 0 {
			f = ft.RotaryFraction
		}
		v.fail("rotary dims int(head dim %d × rotary fraction %g) = %d (RoPE needs an even number in [2, %d])", a.d, f, a.rot, a.d)
	}
	if a.rope && !(g.RopeTheta > 0) {
		v.fail("rope_theta is %v (want > 0)", g.RopeTheta)
	}
	if ft.HeadDim == family.Derived && a.H*a.d != a.D {
		v.fail("heads %d × head dim %d = %d ≠ hidden size %d", a.H, a.d, a.H*a.d, a.D)
	}
	if !ft.GQA && a.K != a.H {
		v.fail("key/value heads %d ≠ heads %d (%s has no grouped-query attention)", a.K, a.H, g.Family)
	}
	if len(g.Layers) != a.L {
		v.fail("graph has %d layers, dims say %d", len(g.Layers), a.L)
	}
	if c := g.Config; c != nil {
		for _, p := range []struct {
			key       string
			cfg, dims int
		}{{"hidden size", c.Hidden, a.D}, {"num layers", c.Layers, a.L}, {"attention heads", c.Heads, a.H},
			{"key/value heads", c.KVHeads, a.K}, {"head dim", c.HeadDim, a.d}, {"intermediate size", c.FFN, a.I},
			{"vocab size", c.Vocab, a.V}} {
			if p.cfg != 0 && p.cfg != p.dims {
				v.fail("config %s is %d but the graph's dims say %d", p.key, p.cfg, p.dims)
			}
		}
	}
	if len(v.errs) > 0 {
		return nil, v.err(g)
	}

	D, H, K, d, I, V := a.D, a.H, a.K, a.d, a.I, a.V
	dimsWhy := func(s string) string {
		return s + fmt.Sprintf(" (D=%d, H=%d, K=%d, d=%d, I=%d, V=%d)", D, H, K, d, I, V)
	}
	v.shape("embed", r.t("embed"), false, dimsWhy("[V, D]"), V, D)
	if a.learned {
		v.shape("pos", r.t("pos"), false, fmt.Sprintf("[P, D] (P=%d, D=%d)", a.P, D), a.P, D)
	} else if !isNil(r.t("pos")) {
		v.fail("pos: a RoPE model has no learned position embeddings")
	}
	if ft.TokenTypes {
		if isNil(r.t("token_type")) {
			v.fail("token_type: missing tensor (%s needs token type embeddings)", g.Family)
		} else if s := r.t("token_type").Shape(); len(s) != 2 || s[1] != D || s[0] < 1 {
			v.fail("token_type: shape %v, want [T, %d]", s, D)
		}
	}
	if ft.EmbedNorm {
		v.normShape("embed_norm", r.norm("embed_norm"), a.rms, D)
	}
	// A family whose every linear map has a bias (GPT-2, BERT) needs them
	// all. Elsewhere a bias is optional here (the graph reader holds each
	// model type to its own rule), but q, k and v come together.
	b := ft.Biases
	allBiases := b.QKV == family.BiasAlways && b.O == family.BiasAlways && b.MLP == family.BiasAlways
	if a.parallel && a.postLN {
		v.fail("a post-LN graph with parallel attention and MLP")
	}
	if !isNil(r.t("pos_pad")) {
		if !a.learned {
			v.fail("pos_pad: a model without learned positions has no rows before them")
		}
		v.shape("pos_pad", r.t("pos_pad"), false, fmt.Sprintf("[2, D] (D=%d)", D), 2, D)
	}
	in, out := []string{"attn_norm", "mlp_norm"}, []string{"attn_out_norm", "mlp_out_norm"}
	if a.outNorms {
		in, out = out, in
	}
	// QK-norm roles the family has not, with how a message names them
	noQK := map[string]string{"attn.q_norm": "attn.{q,k}_norm", "attn.k_norm": "attn.{q,k}_norm",
		"attn.q_proj_norm": "attn.{q,k}_proj_norm", "attn.k_proj_norm": "attn.{q,k}_proj_norm"}
	switch {
	case a.qkWhole:
		delete(noQK, "attn.q_proj_norm")
		delete(noQK, "attn.k_proj_norm")
	case a.qkNorm:
		delete(noQK, "attn.q_norm")
		delete(noQK, "attn.k_norm")
	}
	for l := range min(a.L, len(g.Layers)) {
		p := fmt.Sprintf("layers.%d.", l)
		// The norms the family has, and none of those it has not.
		v.normShape(p+in[0], r.norm(p+in[0]), a.rms, D)
		v.normShape(p+in[1], r.norm(p+in[1]), a.rms, D)
		for _, n := range out {
			if !isNil(r.norm(p+n).W) || !isNil(r.norm(p+n).B) {
				v.fail("%s%s: %s has no such norm", p, n, desc.Name)
			}
		}
		switch {
		case a.qkWhole:
			v.headNormShape(p+"attn.q_proj_norm", r.norm(p+"attn.q_proj_norm"), a.rms, H*d, fmt.Sprintf("[H·d] (H·d=%d)", H*d))
			v.headNormShape(p+"attn.k_proj_norm", r.norm(p+"attn.k_proj_norm"), a.rms, K*d, fmt.Sprintf("[K·d] (K·d=%d)", K*d))
		case a.qkNorm:
			why := fmt.Sprintf("[d] (head dim d=%d)", d)
			v.headNormShape(p+"attn.q_norm", r.norm(p+"attn.q_norm"), a.rms, d, why)
			v.headNormShape(p+"attn.k_norm", r.norm(p+"attn.k_norm"), a.rms, d, why)
		}
		said := map[string]bool{}
		for _, n := range []string{"attn.q_norm", "attn.k_norm", "attn.q_proj_norm", "attn.k_proj_norm"} {
			what, ok := noQK[n]
			if ok && !said[what] && (!isNil(r.norm(p+n).W) || !isNil(r.norm(p+n).B)) {
				said[what] = true
				v.fail("%s%s: %s has no QK-norm of this kind", p, what, desc.Name)
			}
		}
		v.linShape(p+"attn.q", r.lin(p+"attn.q"), allBiases, dimsWhy("[H·d, D]"), H*d, D)
		v.linShape(p+"attn.k", r.lin(p+"attn.k"), allBiases, dimsWhy("[K·d, D]"), K*d, D)
		v.linShape(p+"attn.v", r.lin(p+"attn.v"), allBiases, dimsWhy("[K·d, D]"), K*d, D)
		v.linShape(p+"attn.o", r.lin(p+"attn.o"), allBiases, dimsWhy("[D, H·d]"), D, H*d)
		v.linShape(p+"mlp.up", r.lin(p+"mlp.up"), allBiases, dimsWhy("[I, D]"), I, D)
		v.linShape(p+"mlp.down", r.lin(p+"mlp.down"), allBiases, dimsWhy("[D, I]"), D, I)
		if a.gated {
			v.linShape(p+"mlp.gate", r.lin(p+"mlp.gate"), false, dimsWhy("[I, D]"), I, D)
		} else if !isNil(r.lin(p + "mlp.gate").W) {
			v.fail("%smlp.gate: a %s MLP has no gate", p, g.Family)
		}
		if !allBiases {
			// Biases are optional, but all three of q, k, v come together.
			nb := 0
			for _, t := range []graph.Tensor{r.lin(p + "attn.q").B, r.lin(p + "attn.k").B, r.lin(p + "attn.v").B} {
				if !isNil(t) {
					nb++
				}
			}
			if nb != 0 && nb != 3 {
				v.fail("%sattn: %d of the q, k, v biases present (want none or all three)", p, nb)
			}
		}
	}
	if !a.postLN {
		v.normShape("final_norm", r.norm("final_norm"), a.rms, D)
	}
	a.headless = g.Headless && !a.mlmHead
	switch {
	case a.headless:
		if !isNil(r.t("head")) {
			v.fail("head: a base model (no output head) holds one")
		}
	case g.Tied || isNil(r.t("head")):
		if !g.Tied {
			v.fail("head: missing tensor and the graph is not tied (want [V, D] = [%d, %d])", V, D)
		}
	default:
		v.shape("head", r.t("head"), false, dimsWhy("[V, D]"), V, D)
	}
	a.outWidth = V
	if a.headless {
		a.outWidth = D
	}
	if a.mlmHead {
		a.hasMLM = !isNil(r.lin("mlm.transform").W)
		if a.hasMLM {
			v.linShape("mlm.transform", r.lin("mlm.transform"), false, dimsWhy("[D, D]"), D, D)
			v.normShape("mlm.norm", r.norm("mlm.norm"), false, D)
			v.shape("head_bias", r.t("head.bias"), true, dimsWhy("[V]"), V)
		} else {
			a.outWidth = D
		}
	} else {
		v.shape("head_bias", r.t("head.bias"), true, dimsWhy("[V]"), V)
	}
	// Attention scale.
	a.attnScale = make([]float64, a.L)
	for l := range a.attnScale {
		s := 1 / math.Sqrt(float64(d))
		if ft.AttnScaleKeys && g.Config != nil {
			if b, ok := g.Config.Get("scale_attn_weights"); ok && b == false {
				s = 1
			}
			if b, ok := g.Config.Get("scale_attn_by_inverse_layer_idx"); ok && b == true {
				s /= float64(l + 1)
			}
		}
		a.attnScale[l] = s
	}
	if key := ft.PositionTypeKey; key != "" && g.Config != nil {
		if pt, ok := g.Config.Get(key); ok && pt != nil && pt != "absolute" {
			v.fail("%s %v is not supported (want absolute)", key, pt)
		}
	}
	if ft.SlidingWindow.Key != "" && g.Config != nil {
		a.window = slidingWindow(g, ft.SlidingWindow)
	}
	if len(v.errs) > 0 {
		return nil, v.err(g)
	}
	return a, nil
}

// features checks what the graph says about its computation (norm kind,
// post-LN) against its family's features.
func (v *validator) features(g *graph.Graph, d *family.Descriptor) {
	ft := d.Features
	if ft.PostLN && !g.PostLN {
		v.fail("%s graph without PostLN (this engine runs %s as post-LN)", g.Family, d.Name)
	}
	if !ft.PostLN && g.PostLN {
		v.fail("%s graph with PostLN (%s is pre-LN)", g.Family, d.Name)
	}
	if g.NormKind != "" && g.NormKind != graph.LayerNorm && g.NormKind != graph.RMSNorm {
		v.fail("unknown norm kind %q", g.NormKind)
	} else if g.NormKind != "" && g.NormKind != ft.Norm {
		v.fail("%s graph with %s (want %s)", g.Family, normName(g.NormKind), normName(ft.Norm))
	}
}

// normName is how messages write a norm kind.
func normName(k graph.NormKind) string {
	if k == graph.RMSNorm {
		return "RMSNorm"
	}
	return "LayerNorm"
}

// slidingWindow returns the smallest sliding attention window a config
// applies to any layer, the way transformers reads it: layer_types
// "sliding_attention"; else, with a use switch (Qwen2's use_sliding_window),
// the layers from max_window_layers on; else every layer when the window key
// (sliding_window) is set. 0 means none.
func slidingWindow(g *graph.Graph, sw family.SlidingWindow) int {
	c := g.Config
	raw, ok := c.Get(sw.Key)
	w, isNum := raw.(float64)
	if !ok || !isNum || w <= 0 {
		return 0
	}
	uses := false
	switch {
	case c.LayerTypes != nil:
		for _, t := range c.LayerTypes {
			uses = uses || t == "sliding_attention"
		}
	case sw.UseKey != "":
		u, _ := c.Get(sw.UseKey)
		uses = u == true
		if mw, ok := c.Get(sw.MaxLayersKey); ok && uses && sw.MaxLayersKey != "" {
			if f, ok := mw.(float64); ok && int(f) >= g.Dims.Layers {
				uses = false
			}
		}
	default:
		uses = true // Mistral and LLaMA configs that set sliding_window
	}
	if !uses {
		return 0
	}
	return int(w)
}

func (v *validator) err(g *graph.Graph) error {
	return fmt.Errorf("probe: %s: config and tensors disagree:\n  %s", modelName(g), strings.Join(v.errs, "\n  "))
}

func (v *validator) normShape(role string, n graph.Norm, rms bool, D int) {
	v.shape(role+".weight", n.W, false, fmt.Sprintf("[D] (D=%d)", D), D)
	if rms {
		if !isNil(n.B) {
			v.fail("%s.bias: an RMSNorm has no bias", role)
		}
		return
	}
	v.shape(role+".bias", n.B, false, fmt.Sprintf("[D] (D=%d)", D), D)
}

// headNormShape checks a QK-norm over n values (why: "[d] (head dim d=8)"
// per head, "[H·d] (H·d=32)" over the whole query projection).
func (v *validator) headNormShape(role string, nw graph.Norm, rms bool, n int, why string) {
	v.shape(role+".weight", nw.W, false, why, n)
	if rms {
		if !isNil(nw.B) {
			v.fail("%s.bias: an RMSNorm has no bias", role)
		}
		return
	}
	v.shape(role+".bias", nw.B, false, why, n)
}

func (v *validator) linShape(role string, l graph.Linear, needBias bool, why string, out, in int) {
	v.shape(role+".weight", l.W, false, why, out, in)
	v.shape(role+".bias", l.B, !needBias, fmt.Sprintf("[%d]", out), out)
}

// data decodes t in precision T.
func data[T float](t graph.Tensor, role string) ([]T, error) {
	var zero T
	var out any
	var err error
	switch any(zero).(type) {
	case float32:
		out, err = t.Float32()
	default:
		out, err = t.Float64()
	}
	if err != nil {
		return nil, fmt.Errorf("probe: reading %s: %w", role, err)
	}
	if err := checkFinite(out.([]T), t, role); err != nil {
		return nil, err
	}
	return out.([]T), nil
}

// decodeNorm reads a norm; with plusOne (Features.NormPlusOne) its gain is
// 1 + w, computed in precision T as transformers computes it.
func decodeNorm[T float](n graph.Norm, role string, plusOne bool) (norm[T], error) {
	var out norm[T]
	var err error
	if out.w, err = data[T](n.W, role+".weight"); err != nil {
		return out, err
	}
	if plusOne {
		w := make([]T, len(out.w)) // data may return the tensor's own slice
		for i, x := range out.w {
			w[i] = 1 + x
		}
		out.w = w
	}
	if !isNil(n.B) {
		out.b, err = data[T](n.B, role+".bias")
	}
	return out, err
}

// decode reads the weights of g in precision T: every one now, or with
// stream the vectors now and the matrices as each pass needs them.
func decode[T float](g *graph.Graph, a *arch, stream bool) (*weights[T], error) {
	w := &weights[T]{}
	r := rolesOf(g)
	var err error
	if w.embed, err = newMatrix[T](r.t("embed"), "embed", stream); err != nil {
		return nil, err
	}
	if a.learned {
		if w.pos, err = data[T](r.t("pos"), "pos"); err != nil {
			return nil, err
		}
	}
	if a.tokenTypes {
		if w.tokType, err = data[T](r.t("token_type"), "token_type"); err != nil {
			return nil, err
		}
	}
	if a.embedNorm {
		if w.embNorm, err = decodeNorm[T](r.norm("embed_norm"), "embed_norm", a.plusOne); err != nil {
			return nil, err
		}
	}
	w.layers = make([]layerW[T], a.L)
	for l := range a.L {
		if err := decodeLayer(&w.layers[l], r, a, l, stream); err != nil {
			return nil, err
		}
	}
	if !a.postLN {
		if w.final, err = decodeNorm[T](r.norm("final_norm"), "final_norm", a.plusOne); err != nil {
			return nil, err
		}
	}
	if (a.mlmHead && !a.hasMLM) || a.headless {
		return w, nil // the output is the last hidden state
	}
	if g.Tied || isNil(r.t("head")) {
		w.head = linear[T]{parts: []matrix[T]{w.embed}, in: a.D, out: a.V}
	} else if w.head, err = newLinear[T]("head", a.D, stream, r.lin("head")); err != nil {
		return nil, err
	}
	if !isNil(r.t("head.bias")) {
		if w.head.b, err = data[T](r.t("head.bias"), "head_bias"); err != nil {
			return nil, err
		}
	}
	if a.hasMLM {
		if w.mlm, err = newLinear[T]("mlm.transform", a.D, stream, r.lin("mlm.transform")); err != nil {
			return nil, err
		}
		if w.mlmNorm, err = decodeNorm[T](r.norm("mlm.norm"), "mlm.norm", a.plusOne); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// decodeLayer reads the weights of block l into dst.
func decodeLayer[T float](dst *layerW[T], r roles, a *arch, l int, stream bool) error {
	p := fmt.Sprintf("layers.%d.", l)
	type slot struct {
		dst  *norm[T]
		role string
	}
	norms := []slot{{&dst.attnNorm, "attn_norm"}, {&dst.mlpNorm, "mlp_norm"}}
	if a.outNorms {
		norms = []slot{{&dst.attnOut, "attn_out_norm"}, {&dst.mlpOut, "mlp_out_norm"}}
	}
	switch {
	case a.qkWhole:
		norms = append(norms, slot{&dst.qNorm, "attn.q_proj_norm"}, slot{&dst.kNorm, "attn.k_proj_norm"})
	case a.qkNorm:
		norms = append(norms, slot{&dst.qNorm, "attn.q_norm"}, slot{&dst.kNorm, "attn.k_norm"})
	}
	var err error
	for _, n := range norms {
		if *n.dst, err = decodeNorm[T](r.norm(p+n.role), p+n.role, a.plusOne); err != nil {
			return err
		}
	}
	if dst.qkv, err = newLinear[T](p+"attn.qkv", a.D, stream, r.lin(p+"attn.q"), r.lin(p+"attn.k"), r.lin(p+"attn.v")); err != nil {
		return err
	}
	if dst.o, err = newLinear[T](p+"attn.o", a.H*a.d, stream, r.lin(p+"attn.o")); err != nil {
		return err
	}
	if a.gated {
		dst.up, err = newLinear[T](p+"mlp.gate_up", a.D, stream, r.lin(p+"mlp.gate"), r.lin(p+"mlp.up"))
	} else {
		dst.up, err = newLinear[T](p+"mlp.up", a.D, stream, r.lin(p+"mlp.up"))
	}
	if err != nil {
		return err
	}
	dst.down, err = newLinear[T](p+"mlp.down", a.I, stream, r.lin(p+"mlp.down"))
	return err
}

// roles are a graph's tensors by role name (graph.Fields): the forward pass
// reads its weights by role, not by the graph's field names.
type roles map[string]graph.Tensor

func rolesOf(g *graph.Graph) roles {
	r := roles{}
	for _, f := range g.Fields() {
		if !isNil(*f.T) {
			r[f.Role] = *f.T
		}
	}
	return r
}

// t returns the tensor of a role (nil when the graph has none).
func (r roles) t(role string) graph.Tensor { return r[role] }

// lin returns the linear map of a role ("layers.0.attn.q": its weight and
// bias; "head": the head matrix alone, whose bias is the role head.bias).
func (r roles) lin(role string) graph.Linear {
	if role == "head" {
		return graph.Linear{W: r["head"]}
	}
	return graph.Linear{W: r[role+".weight"], B: r[role+".bias"]}
}

// norm returns the norm of a role ("final_norm": its weight and bias).
func (r roles) norm(role string) graph.Norm {
	return graph.Norm{W: r[role+".weight"], B: r[role+".bias"]}
}
