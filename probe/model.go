package probe

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/grow-ml/grow/graph"
)

// float is the element type of a forward pass.
type float interface{ float32 | float64 }

// arch is everything about a graph's computation that is not a weight.
type arch struct {
	family  graph.Family
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
	gated   bool
	learned bool // learned absolute positions
	// attnScale[l] multiplies q·k in layer l.
	attnScale []float64
	hasMLM    bool
	outWidth  int // width of Result.Logits rows
	// window is the smallest sliding attention window of any layer (0: none).
	// The engine attends to the whole causal prefix, so it refuses sequences
	// longer than the window instead of computing something else.
	window int
}

// linear is y = x·Wᵀ + b. With outMajor, w is W as stored, [out, in]
// row-major; otherwise w is Wᵀ, [in, out] row-major.
type linear[T float] struct {
	w        []T
	b        []T // nil without a bias
	in, out  int
	outMajor bool
}

// outMajorLayout selects the weight layout of every linear map (see
// BenchmarkLayout): [out, in] multiplies through Gemm(NoTrans, Trans), whose
// packing transposes the weights in blocks; [in, out] through Gemm(NoTrans,
// NoTrans), whose packing copies rows of them (internal/gemm).
var outMajorLayout = true

type norm[T float] struct{ w, b []T }

type layerW[T float] struct {
	attnNorm, mlpNorm norm[T]
	// qkv is the fused [D, (H+2K)·d] projection (q | k | v).
	qkv linear[T]
	o   linear[T]
	// up is [D, I], or the fused [D, 2I] (gate | up) of a gated MLP.
	up   linear[T]
	down linear[T]
}

type weights[T float] struct {
	embed, pos, tokType []T // [V, D], [P, D], [T, D] row-major
	embNorm             norm[T]
	layers              []layerW[T]
	final               norm[T]
	head                linear[T] // [D, V]
	headBias            []T
	mlm                 linear[T]
	mlmNorm             norm[T]
}

// New validates g and decodes its weights once in the given precision (F64
// upcasts every dtype exactly; F32 is exact for F32, F16 and BF16 inputs). It
// refuses, before any arithmetic, a graph whose tensors disagree with its dims or
// config, a missing tensor, or an activation or RoPE scaling it does not know.
func New(g *graph.Graph, prec Precision) (*Model, error) {
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
	m := &Model{g: g, prec: prec, arch: *a}
	if prec == F32 {
		m.arch.act = activation32(g.Act, a.act)
	}
	if a.rope {
		inv, err := ropeInvFreq(g.RopeTheta, a.d, g.RopeScaling)
		if err != nil {
			return nil, fmt.Errorf("probe: %s: %w", modelName(g), err)
		}
		m.invFreq = inv
	}
	switch prec {
	case F32:
		m.w32, err = decode[float32](g, a)
	default:
		m.w64, err = decode[float64](g, a)
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
func (m *Model) HasLMHead() bool { return m.arch.family != graph.FamilyBERT || m.arch.hasMLM }

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
	if !equalInts(got, want) {
		name := ""
		if reflect.TypeOf(t).Comparable() {
			if n, ok := v.names[t]; ok {
				name = fmt.Sprintf(" (%q)", n)
			}
		}
		v.fail("%s%s: shape %v, want %v = %s", role, name, got, want, why)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func isNil(t graph.Tensor) bool {
	return t == nil || (reflect.ValueOf(t).Kind() == reflect.Pointer && reflect.ValueOf(t).IsNil())
}

// validate checks the graph's dims against its config and every tensor against
// the dims, and returns the computation's description.
func validate(g *graph.Graph) (*arch, error) {
	v := &validator{g: g, names: roleNames(g)}
	a := &arch{family: g.Family, D: g.Hidden, L: g.Dims.Layers, H: g.Heads, K: g.KVHeads, d: g.HeadDim,
		I: g.FFN, V: g.Vocab, P: g.Positions, eps: g.Eps, postLN: g.PostLN, actName: g.Act}
	switch g.Family {
	case graph.FamilyGPT2:
		a.causal, a.learned = true, true
	case graph.FamilyLlama:
		a.causal, a.rope, a.gated, a.rms = true, true, true, true
	case graph.FamilyBERT:
		a.learned = true
		if !g.PostLN {
			v.fail("bert graph without PostLN (this engine runs BERT as post-LN)")
		}
	default:
		return nil, fmt.Errorf("probe: %s: unknown family %q", modelName(g), g.Family)
	}
	if g.NormKind == graph.RMSNorm {
		a.rms = true
	} else if g.NormKind != graph.LayerNorm && g.NormKind != "" {
		v.fail("unknown norm kind %q", g.NormKind)
	}
	if g.Family == graph.FamilyLlama && g.NormKind == graph.LayerNorm {
		v.fail("llama graph with LayerNorm (want RMSNorm)")
	}
	if g.Family != graph.FamilyLlama && g.NormKind == graph.RMSNorm {
		v.fail("%s graph with RMSNorm (want LayerNorm)", g.Family)
	}
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
	if a.rope && a.d%2 != 0 {
		v.fail("head dim %d is odd (RoPE needs an even head dim)", a.d)
	}
	if a.rope && !(g.RopeTheta > 0) {
		v.fail("rope_theta is %v (want > 0)", g.RopeTheta)
	}
	if g.Family != graph.FamilyLlama && a.H*a.d != a.D {
		v.fail("heads %d × head dim %d = %d ≠ hidden size %d", a.H, a.d, a.H*a.d, a.D)
	}
	if g.Family != graph.FamilyLlama && a.K != a.H {
		v.fail("key/value heads %d ≠ heads %d (only the llama family has grouped-query attention)", a.K, a.H)
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
	v.shape("embed", g.Embed, false, dimsWhy("[V, D]"), V, D)
	if a.learned {
		v.shape("pos", g.Pos, false, fmt.Sprintf("[P, D] (P=%d, D=%d)", a.P, D), a.P, D)
	} else if !isNil(g.Pos) {
		v.fail("pos: a RoPE model has no learned position embeddings")
	}
	if g.Family == graph.FamilyBERT {
		if isNil(g.TokenType) {
			v.fail("token_type: missing tensor (BERT needs token type embeddings)")
		} else if s := g.TokenType.Shape(); len(s) != 2 || s[1] != D || s[0] < 1 {
			v.fail("token_type: shape %v, want [T, %d]", s, D)
		}
		v.normShape("embed_norm", g.EmbedNorm, false, D)
	}
	for l := range g.Layers {
		ly := &g.Layers[l]
		p := fmt.Sprintf("layers.%d.", l)
		v.normShape(p+"attn_norm", ly.AttnNorm, a.rms, D)
		v.normShape(p+"mlp_norm", ly.MLPNorm, a.rms, D)
		v.linShape(p+"attn.q", ly.Q, g.Family != graph.FamilyLlama, dimsWhy("[H·d, D]"), H*d, D)
		v.linShape(p+"attn.k", ly.K, g.Family != graph.FamilyLlama, dimsWhy("[K·d, D]"), K*d, D)
		v.linShape(p+"attn.v", ly.V, g.Family != graph.FamilyLlama, dimsWhy("[K·d, D]"), K*d, D)
		v.linShape(p+"attn.o", ly.O, g.Family != graph.FamilyLlama, dimsWhy("[D, H·d]"), D, H*d)
		v.linShape(p+"mlp.up", ly.Up, g.Family != graph.FamilyLlama, dimsWhy("[I, D]"), I, D)
		v.linShape(p+"mlp.down", ly.Down, g.Family != graph.FamilyLlama, dimsWhy("[D, I]"), D, I)
		if a.gated {
			v.linShape(p+"mlp.gate", ly.Gate, false, dimsWhy("[I, D]"), I, D)
		} else if !isNil(ly.Gate.W) {
			v.fail("%smlp.gate: a %s MLP has no gate", p, g.Family)
		}
		if g.Family == graph.FamilyLlama {
			// Biases are optional, but all three of q, k, v come together.
			nb := 0
			for _, t := range []graph.Tensor{ly.Q.B, ly.K.B, ly.V.B} {
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
		v.normShape("final_norm", g.FinalNorm, a.rms, D)
	}
	if g.Tied || isNil(g.Head) {
		if !g.Tied {
			v.fail("head: missing tensor and the graph is not tied (want [V, D] = [%d, %d])", V, D)
		}
	} else {
		v.shape("head", g.Head, false, dimsWhy("[V, D]"), V, D)
	}
	a.outWidth = V
	if g.Family == graph.FamilyBERT {
		a.hasMLM = !isNil(g.MLMTransform.W)
		if a.hasMLM {
			v.linShape("mlm.transform", g.MLMTransform, false, dimsWhy("[D, D]"), D, D)
			v.normShape("mlm.norm", g.MLMNorm, false, D)
			v.shape("head_bias", g.HeadBias, true, dimsWhy("[V]"), V)
		} else {
			a.outWidth = D
		}
	} else {
		v.shape("head_bias", g.HeadBias, true, dimsWhy("[V]"), V)
	}
	// Attention scale.
	a.attnScale = make([]float64, a.L)
	for l := range a.attnScale {
		s := 1 / math.Sqrt(float64(d))
		if g.Family == graph.FamilyGPT2 && g.Config != nil {
			if b, ok := g.Config.Get("scale_attn_weights"); ok && b == false {
				s = 1
			}
			if b, ok := g.Config.Get("scale_attn_by_inverse_layer_idx"); ok && b == true {
				s /= float64(l + 1)
			}
		}
		a.attnScale[l] = s
	}
	if g.Family == graph.FamilyBERT && g.Config != nil {
		if pt, ok := g.Config.Get("position_embedding_type"); ok && pt != nil && pt != "absolute" {
			v.fail("position_embedding_type %v is not supported (want absolute)", pt)
		}
	}
	if g.Family == graph.FamilyLlama && g.Config != nil {
		a.window = slidingWindow(g)
	}
	if len(v.errs) > 0 {
		return nil, v.err(g)
	}
	return a, nil
}

// slidingWindow returns the smallest sliding attention window a llama-family
// config applies to any layer, the way transformers reads it: layer_types
// "sliding_attention", Mistral's sliding_window, Qwen2's use_sliding_window
// (layers from max_window_layers on). 0 means none.
func slidingWindow(g *graph.Graph) int {
	c := g.Config
	raw, ok := c.Get("sliding_window")
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
	case c.ModelType == "qwen2":
		u, _ := c.Get("use_sliding_window")
		uses = u == true
		if mw, ok := c.Get("max_window_layers"); ok && uses {
			if f, ok := mw.(float64); ok && int(f) >= g.Dims.Layers {
				uses = false
			}
		}
	default:
		uses = true // mistral and llama-family configs that set sliding_window
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
	return out.([]T), nil
}

// transpose returns the [in, out] transpose of an [out, in] matrix.
func transpose[T float](w []T, out, in int) []T {
	t := make([]T, len(w))
	for o := 0; o < out; o++ {
		row := w[o*in : (o+1)*in]
		for i, x := range row {
			t[i*out+o] = x
		}
	}
	return t
}

// fuse builds one [in, Σout] linear from several [out_k, in] ones (biases
// concatenated, zero where a part has none; nil when no part has one).
func fuse[T float](role string, in int, parts ...graph.Linear) (linear[T], error) {
	total := 0
	hasBias := false
	for _, p := range parts {
		total += p.W.Shape()[0]
		if !isNil(p.B) {
			hasBias = true
		}
	}
	l := linear[T]{w: make([]T, in*total), in: in, out: total, outMajor: outMajorLayout}
	if hasBias {
		l.b = make([]T, total)
	}
	col := 0
	for k, p := range parts {
		w, err := data[T](p.W, fmt.Sprintf("%s[%d].weight", role, k))
		if err != nil {
			return l, err
		}
		out := p.W.Shape()[0]
		if l.outMajor {
			copy(l.w[col*in:(col+out)*in], w)
		} else {
			for o := 0; o < out; o++ {
				row := w[o*in : (o+1)*in]
				for i, x := range row {
					l.w[i*total+col+o] = x
				}
			}
		}
		if !isNil(p.B) {
			b, err := data[T](p.B, fmt.Sprintf("%s[%d].bias", role, k))
			if err != nil {
				return l, err
			}
			copy(l.b[col:col+out], b)
		}
		col += out
	}
	return l, nil
}

func decodeNorm[T float](n graph.Norm, role string) (norm[T], error) {
	var out norm[T]
	var err error
	if out.w, err = data[T](n.W, role+".weight"); err != nil {
		return out, err
	}
	if !isNil(n.B) {
		out.b, err = data[T](n.B, role+".bias")
	}
	return out, err
}

// decode reads every weight of g once, in precision T.
func decode[T float](g *graph.Graph, a *arch) (*weights[T], error) {
	w := &weights[T]{}
	var err error
	if w.embed, err = data[T](g.Embed, "embed"); err != nil {
		return nil, err
	}
	if a.learned {
		if w.pos, err = data[T](g.Pos, "pos"); err != nil {
			return nil, err
		}
	}
	if g.Family == graph.FamilyBERT {
		if w.tokType, err = data[T](g.TokenType, "token_type"); err != nil {
			return nil, err
		}
		if w.embNorm, err = decodeNorm[T](g.EmbedNorm, "embed_norm"); err != nil {
			return nil, err
		}
	}
	w.layers = make([]layerW[T], a.L)
	for l := range g.Layers {
		src := &g.Layers[l]
		dst := &w.layers[l]
		p := fmt.Sprintf("layers.%d.", l)
		if dst.attnNorm, err = decodeNorm[T](src.AttnNorm, p+"attn_norm"); err != nil {
			return nil, err
		}
		if dst.mlpNorm, err = decodeNorm[T](src.MLPNorm, p+"mlp_norm"); err != nil {
			return nil, err
		}
		if dst.qkv, err = fuse[T](p+"attn.qkv", a.D, src.Q, src.K, src.V); err != nil {
			return nil, err
		}
		if dst.o, err = fuse[T](p+"attn.o", a.H*a.d, src.O); err != nil {
			return nil, err
		}
		if a.gated {
			dst.up, err = fuse[T](p+"mlp.gate_up", a.D, src.Gate, src.Up)
		} else {
			dst.up, err = fuse[T](p+"mlp.up", a.D, src.Up)
		}
		if err != nil {
			return nil, err
		}
		if dst.down, err = fuse[T](p+"mlp.down", a.I, src.Down); err != nil {
			return nil, err
		}
	}
	if !a.postLN {
		if w.final, err = decodeNorm[T](g.FinalNorm, "final_norm"); err != nil {
			return nil, err
		}
	}
	if g.Family == graph.FamilyBERT && !a.hasMLM {
		return w, nil
	}
	if g.Tied || isNil(g.Head) {
		if outMajorLayout {
			w.head = linear[T]{w: w.embed, in: a.D, out: a.V, outMajor: true}
		} else {
			w.head = linear[T]{w: transpose(w.embed, a.V, a.D), in: a.D, out: a.V}
		}
	} else if w.head, err = fuse[T]("head", a.D, graph.Linear{W: g.Head}); err != nil {
		return nil, err
	}
	if !isNil(g.HeadBias) {
		if w.headBias, err = data[T](g.HeadBias, "head_bias"); err != nil {
			return nil, err
		}
		w.head.b = w.headBias
	}
	if a.hasMLM {
		if w.mlm, err = fuse[T]("mlm.transform", a.D, g.MLMTransform); err != nil {
			return nil, err
		}
		if w.mlmNorm, err = decodeNorm[T](g.MLMNorm, "mlm.norm"); err != nil {
			return nil, err
		}
	}
	return w, nil
}
