package grow

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/graph/family"
)

// Method names a width-growth operator.
type Method string

// The operators of this package.
const (
	HyperCloning Method = "hypercloning"
	LEMON        Method = "lemon"
	ZeroPad      Method = "zeropad"
)

// DefaultSplitScale is LEMON's default random fan-in split scale, relative to the
// root mean square of each weight divided by its copy count (the LEMON BERT code
// uses 0.1 of the init scale).
const DefaultSplitScale = 0.1

// Options choose an operator and its targets.
type Options struct {
	Method Method

	// WidthFactor (HyperCloning): hidden, query heads and key/value heads ×N
	// (key/value heads stay 1 for multi-query attention).
	WidthFactor int
	// FFNFactor (HyperCloning): FFN ×M; 0 means WidthFactor.
	FFNFactor int
	// NoiseSNRDB (HyperCloning): when Noise is set, zero-sum noise at this
	// signal-to-noise ratio in dB is added to the copies of every layer matrix.
	Noise      bool
	NoiseSNRDB float64

	// Hidden, Heads, KVHeads, FFN (LEMON, zero-padding): the target sizes; 0 picks
	// a default (heads follow the hidden width at unchanged head_dim, key/value
	// heads keep the group size, FFN keeps its ratio to the hidden width).
	Hidden, Heads, KVHeads, FFN int
	// HeadDim is the target head_dim; 0 or the source's keeps it. Any other value
	// is refused (RoPE frequencies and 1/sqrt(d) depend on it).
	HeadDim int
	// SplitScale (LEMON) is the random fan-in split scale; 0 means
	// DefaultSplitScale, a negative value uniform splits.
	SplitScale float64
	// PadStd (zero-padding) is the standard deviation of the free new values
	// (columns that read zeros, rows of new units whose outputs are discarded).
	PadStd float64

	// KeepTied keeps a tied output head tied by folding the head's 1/q into the
	// norm that feeds it; by default a tied head that needs a scale is untied.
	KeepTied bool
	// Seed makes noise and random splits reproducible.
	Seed int64
}

// Result is a grown model.
type Result struct {
	// Graph is the grown graph; its tensors are computed when read.
	Graph *graph.Graph
	// Plan says what was done to every tensor.
	Plan *Plan
	// Mapping is what grow check needs to judge the result.
	Mapping claim.Mapping
	// Params are the operator's parameters as recorded in grow.params.
	Params map[string]any
}

// Metadata returns the safetensors metadata an operator records in every shard
// written as dtype dt ("" keeps each tensor's dtype): grow.version, grow.operator,
// grow.params and the mapping under claim.MetadataKey. When the plan's arithmetic
// is not exact in dt, the mapping says so (claim.Mapping.Rounded), and when dt
// cannot hold every source value it names dt as the storage dtype
// (claim.Mapping.Storage), so that a later grow check judges the result by what
// its dtype can hold.
func (r *Result) Metadata(version string, dt checkpoint.DType) (map[string]string, error) {
	mapping := r.Mapping
	if len(r.Plan.InexactIn(dt)) > 0 {
		mapping.Rounded = string(r.Plan.storedDType(dt))
	}
	if r.Plan.rounds(dt) {
		mapping.Storage = string(dt)
	}
	m, err := json.Marshal(mapping)
	if err != nil {
		return nil, err
	}
	p, err := json.Marshal(r.Params)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"grow.version":    version,
		"grow.operator":   string(r.Plan.Operator),
		"grow.params":     string(p),
		claim.MetadataKey: string(m),
	}, nil
}

// spec is an operator reduced to index maps and per-tensor rules.
type spec struct {
	op    Method
	class string
	dims  graph.Dims
	// hid is the hidden axis: rows/entries it produces get hid.produce for new
	// indices, columns that read it get hid.consume.
	hid       *axisMap
	q, kv     *axisMap // over H·d and K·d, head-major
	ffn       *axisMap
	normScale float64 // sqrt(s) on copied norm gains
	epsScale  float64 // s
	// normNewCyclic: new norm gains are scale·w[i mod D] (else 0).
	normNewCyclic bool
	perturb       perturbKind
	rel           float64
	freeStd       float64
	absRandom     bool
	hiddenMap     claim.HiddenMap
	hiddenText    string
	notes         []string
	params        map[string]any
}

// OptionError is an Options value that Expand refuses for the given source:
// an unknown method, a flag the method does not take, a target it cannot
// reach. A command line reports it as a usage error.
type OptionError struct{ Err error }

func (e *OptionError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *OptionError) Unwrap() error { return e.Err }

// Expand grows g with the operator opts.Method. Nothing is read from g's
// tensors: the result's tensors compute themselves when asked. Options it
// refuses are an *OptionError; targets beyond MaxSize or the machine's memory
// a *LimitError, refused before anything of their size is allocated.
func Expand(g *graph.Graph, opts Options) (*Result, error) {
	if g == nil {
		return nil, errors.New("expand: no graph")
	}
	if err := checkSource(g); err != nil {
		return nil, err
	}
	s, err := expandSpec(g, opts)
	var limit *LimitError
	if errors.As(err, &limit) {
		return nil, err
	}
	if err != nil {
		return nil, &OptionError{err}
	}
	r, err := s.apply(g, opts)
	if err != nil {
		return nil, err
	}
	if err := checkMemory(r.Plan); err != nil {
		return nil, err
	}
	return r, nil
}

// expandSpec validates opts for g and returns the operator's spec.
func expandSpec(g *graph.Graph, opts Options) (*spec, error) {
	switch opts.Method {
	case HyperCloning, LEMON, ZeroPad:
	case "":
		return nil, errors.New("expand: no method: give --method hypercloning, lemon or zeropad")
	default:
		return nil, fmt.Errorf("expand: unknown method %q (hypercloning, lemon or zeropad)", opts.Method)
	}
	if err := checkHeadDim(g, opts); err != nil {
		return nil, err
	}
	// A flag of another method would be ignored silently: refuse it.
	if opts.PadStd != 0 && (opts.Method == HyperCloning || opts.Method == LEMON) {
		return nil, fmt.Errorf("expand: --pad-std is a zeropad flag; %s does not use it", opts.Method)
	}
	if opts.SplitScale != 0 && (opts.Method == HyperCloning || opts.Method == ZeroPad) {
		return nil, fmt.Errorf("expand: --split-scale is a lemon flag; %s does not use it", opts.Method)
	}
	if opts.KeepTied && !g.Tied {
		return nil, fmt.Errorf("expand: --keep-tied: the source's output head is not tied to its embedding (nothing to keep)")
	}
	switch opts.Method {
	case HyperCloning:
		return hyperCloningSpec(g, opts)
	case LEMON:
		return lemonSpec(g, opts)
	}
	return zeroPadSpec(g, opts)
}

// checkSource refuses a graph whose sizes are incomplete or inconsistent.
func checkSource(g *graph.Graph) error {
	d := g.Dims
	if d.Hidden <= 0 || d.Heads <= 0 || d.KVHeads <= 0 || d.HeadDim <= 0 || d.FFN <= 0 {
		return fmt.Errorf("expand: source dims incomplete (%s)", dimsLine(d))
	}
	if len(g.Layers) != d.Layers {
		return fmt.Errorf("expand: source has %d layers but dims say %d", len(g.Layers), d.Layers)
	}
	return nil
}

// checkHeadDim refuses a target head_dim other than the source's.
func checkHeadDim(g *graph.Graph, opts Options) error {
	d := g.Dims
	if opts.HeadDim != 0 && opts.HeadDim != d.HeadDim {
		if g.RopeTheta != 0 {
			return fmt.Errorf("expand: head_dim %d -> %d refused: this %s model uses RoPE, whose frequencies theta^(-2j/d) and the 1/sqrt(d) attention scale depend on head_dim, so a wider head cannot compute the same function in a checkpoint; grow the number of heads instead (head_dim stays %d)", d.HeadDim, opts.HeadDim, g.Family, d.HeadDim)
		}
		return fmt.Errorf("expand: head_dim %d -> %d refused: grow keeps head_dim fixed and grows the number of heads (the per-head interleave with q·k rescaling is not implemented)", d.HeadDim, opts.HeadDim)
	}
	return nil
}

// targetHeads validates or defaults H', K' for a hidden width D'.
func targetHeads(g *graph.Graph, opts Options, hidden int) (h2, k2 int, err error) {
	d := g.Dims
	derived := g.Features().HeadDim == family.Derived // head_dim = hidden/heads (GPT-2, BERT)
	h2 = opts.Heads
	if h2 == 0 {
		if derived {
			if hidden%d.HeadDim != 0 {
				return 0, 0, fmt.Errorf("hidden %d is not a multiple of head_dim %d; %s derives head_dim = hidden/heads, so the heads cannot keep their width (pick a multiple of %d)", hidden, d.HeadDim, g.Family, d.HeadDim)
			}
			h2 = hidden / d.HeadDim
		} else {
			g0 := d.Heads / d.KVHeads
			h2 = d.Heads * hidden / d.Hidden
			if d.KVHeads > 1 {
				h2 -= h2 % g0
			}
			h2 = max(h2, d.Heads)
			if headsDivideHidden(g) && hidden%h2 != 0 {
				// the largest head count below that transformers' LlamaConfig accepts
				for h := h2 - 1; h >= d.Heads; h-- {
					if hidden%h == 0 && (d.KVHeads == 1 || h%g0 == 0) {
						h2 = h
						break
					}
				}
			}
		}
	}
	if headsDivideHidden(g) && hidden%h2 != 0 {
		desc := g.Descriptor()
		return 0, 0, fmt.Errorf("%d heads do not divide the hidden width %d: transformers' %s (model_type %s) refuses such a config even with head_dim written, so the checkpoint would not load; give --heads%s", h2, hidden, desc.ConfigClass, desc.ModelType, headsDividing(g, hidden))
	}
	if derived && h2*d.HeadDim != hidden {
		return 0, 0, fmt.Errorf("%d heads × head_dim %d = %d, not the hidden width %d; %s derives head_dim = hidden/heads, so heads must be hidden/%d = %g", h2, d.HeadDim, h2*d.HeadDim, hidden, g.Family, d.HeadDim, float64(hidden)/float64(d.HeadDim))
	}
	if h2 < d.Heads {
		return 0, 0, fmt.Errorf("target heads %d is smaller than the source's %d (grow expand only grows)", h2, d.Heads)
	}
	k2 = opts.KVHeads
	if k2 == 0 {
		switch {
		case derived:
			k2 = h2
		case d.KVHeads == 1:
			k2 = 1
		case h2%(d.Heads/d.KVHeads) == 0:
			k2 = h2 / (d.Heads / d.KVHeads)
		default:
			return 0, 0, fmt.Errorf("%d heads is not a multiple of the source's %d query heads per key/value head; give --kv-heads", h2, d.Heads/d.KVHeads)
		}
	}
	if !g.Features().GQA && k2 != h2 {
		return 0, 0, fmt.Errorf("%s has no grouped-query attention; key/value heads must equal heads (%d), not %d", g.Family, h2, k2)
	}
	if k2 < d.KVHeads {
		return 0, 0, fmt.Errorf("target key/value heads %d is smaller than the source's %d (grow expand only grows)", k2, d.KVHeads)
	}
	if h2%k2 != 0 {
		return 0, 0, fmt.Errorf("%d heads do not divide into %d key/value heads", h2, k2)
	}
	return h2, k2, nil
}

// headsDivideHidden reports whether g's transformers config class requires
// hidden_size % num_attention_heads == 0 whatever head_dim says (LlamaConfig
// for model_type llama; MistralConfig and Qwen2Config do not). A graph
// without a config is written without one, so no config class judges it.
func headsDivideHidden(g *graph.Graph) bool {
	d := g.Descriptor()
	return g.Config != nil && d != nil && d.Constraints.HeadsDivideHidden
}

// headsDividing lists, for the refusal of targetHeads, up to four head counts
// of at least the source's that divide hidden and keep whole query groups.
func headsDividing(g *graph.Graph, hidden int) string {
	d := g.Dims
	g0 := d.Heads / d.KVHeads
	var hs []string
	for h := d.Heads; h <= hidden && len(hs) < 4; h++ {
		if hidden%h == 0 && (d.KVHeads == 1 || h%g0 == 0) {
			hs = append(hs, strconv.Itoa(h))
		}
	}
	if len(hs) == 0 {
		return " (no head count of at least the source's divides it: pick another --hidden)"
	}
	return " dividing it, e.g. " + strings.Join(hs, ", ")
}

// apply builds the grown graph and the plan from a spec.
func (s *spec) apply(g *graph.Graph, opts Options) (*Result, error) {
	out := *g
	out.Dims = s.dims
	out.Eps = g.Eps * s.epsScale
	if s.epsScale != 1 {
		// 15 significant digits: 1e-5·0.64 is written 6.4e-06, not 6.4000000000000006e-06
		out.Eps, _ = strconv.ParseFloat(strconv.FormatFloat(out.Eps, 'g', 15, 64), 64)
	}
	out.Layers = make([]graph.Layer, len(g.Layers))
	plan := &Plan{Operator: string(s.op), Family: g.Family, Src: g.Dims, Dst: s.dims,
		SrcEps: g.Eps, DstEps: out.Eps, SrcTied: g.Tied, Class: s.class, Hidden: s.hiddenText,
		Notes: s.notes}
	vocab := identityMap(g.Vocab)
	// q copies of every hidden coordinate in what the head reads.
	headCopies := 1
	for _, c := range s.hid.count {
		headCopies = max(headCopies, c)
	}
	seed := opts.Seed
	freeStd := s.freeStd

	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	inexact := func(why ...string) (bool, string) {
		var w []string
		for _, x := range why {
			if x != "" {
				w = append(w, x)
			}
		}
		return len(w) == 0, strings.Join(w, "; ")
	}
	divWhy := func(m *axisMap) string {
		for _, c := range m.count {
			if c&(c-1) != 0 {
				return fmt.Sprintf("fan-in division by %d", c)
			}
		}
		return ""
	}
	add := func(role string, src graph.Tensor, dst []int, rule string, scaled bool, why ...string) {
		ex, w := inexact(why...)
		plan.Tensors = append(plan.Tensors, TensorPlan{Role: role, SrcShape: src.Shape(), DstShape: dst,
			DType: src.DType(), Rule: rule, Exact: ex, Why: w, Scaled: scaled})
	}
	// mat grows a matrix whose rows are produced on rows and columns read cols.
	mat := func(role string, t graph.Tensor, rows, cols *axisMap, rk, ck string, layer bool) graph.Tensor {
		if t == nil {
			return nil
		}
		if sh := t.Shape(); len(sh) != 2 || sh[0] != rows.src || sh[1] != cols.src {
			fail(fmt.Errorf("expand: %s: shape %v, want [%d %d]", role, t.Shape(), rows.src, cols.src))
			return t
		}
		r := &matrixRule{rows: rows, cols: cols, freeStd: freeStd, absRandom: s.absRandom, seed: seed, role: role}
		pw := ""
		if layer && s.perturb != perturbNone {
			r.perturb, r.rel = s.perturb, s.rel
			for _, c := range cols.count {
				if c > 1 {
					if s.perturb == perturbNoise {
						pw = "zero-sum noise cancels only in real arithmetic"
					} else {
						pw = "random fan-in split cancels only in real arithmetic"
					}
					break
				}
			}
		}
		mw := ""
		if rows.produce == fillMean && hasNew(rows) {
			mw = "mean rows"
		}
		rule := describe(rk, rows, false) + "; " + describe(ck, cols, true)
		if d := divWhy(cols); d != "" || !isUniformOne(cols) {
			rule += " (fan-in split)"
		}
		if r.perturb == perturbNoise && pw != "" {
			rule += fmt.Sprintf(" + noise %g dB", opts.NoiseSNRDB)
		} else if r.perturb == perturbSplit && pw != "" {
			rule += " + random split"
		}
		add(role, t, []int{rows.dst, cols.dst}, rule, !isUniformOne(cols), divWhy(cols), pw, mw)
		return newLazyMatrix(t, r)
	}
	// embed grows a [rows, HID] matrix whose hidden columns are outputs.
	embed := func(role string, t graph.Tensor, rows *axisMap) graph.Tensor {
		if t == nil {
			return nil
		}
		if sh := t.Shape(); len(sh) != 2 || sh[0] != rows.src || sh[1] != s.hid.src {
			fail(fmt.Errorf("expand: %s: shape %v, want [%d %d]", role, t.Shape(), rows.src, s.hid.src))
			return t
		}
		r := &matrixRule{rows: rows, cols: s.hid, colsProduce: true, freeStd: freeStd, absRandom: s.absRandom, seed: seed, role: role}
		mw := ""
		if s.hid.produce == fillMean && hasNew(s.hid) {
			mw = "mean columns"
		}
		add(role, t, []int{rows.dst, s.hid.dst}, describe("hidden", s.hid, false), false, mw)
		return newLazyMatrix(t, r)
	}
	vec := func(role string, t graph.Tensor, m *axisMap, kind string) graph.Tensor {
		if t == nil {
			return nil
		}
		if sh := t.Shape(); len(sh) != 1 || sh[0] != m.src {
			fail(fmt.Errorf("expand: %s: shape %v, want [%d]", role, t.Shape(), m.src))
			return t
		}
		r := &vectorRule{m: m, freeStd: freeStd, seed: seed, role: role}
		if !s.absRandom {
			r.freeStd = 0 // relative free values in a bias make no sense; zero
		}
		mw := ""
		if m.produce == fillMean && hasNew(m) {
			mw = "mean entries"
		}
		add(role, t, []int{m.dst}, describe(kind, m, false), false, mw)
		return newLazyVector(t, r)
	}
	// lin maps a layer's linear map: its [out, in] weight over rows × cols and
	// its bias over rows.
	lin := func(role string, l graph.Linear, rows, cols *axisMap, rk, ck string) graph.Linear {
		return graph.Linear{W: mat(role+".weight", l.W, rows, cols, rk, ck, true), B: vec(role+".bias", l.B, rows, rk)}
	}
	norm := func(role string, n graph.Norm, fold float64) graph.Norm {
		if n.W == nil {
			return n
		}
		out := graph.Norm{}
		for _, part := range []struct {
			t    graph.Tensor
			bias bool
		}{{n.W, false}, {n.B, true}} {
			if part.t == nil {
				continue
			}
			name := role + ".weight"
			if part.bias {
				name = role + ".bias"
			}
			if sh := part.t.Shape(); len(sh) != 1 || sh[0] != s.hid.src {
				fail(fmt.Errorf("expand: %s: shape %v, want [%d]", name, part.t.Shape(), s.hid.src))
				return n
			}
			r := &vectorRule{m: s.hid, norm: !part.bias, normBias: part.bias, scale: s.normScale, fold: fold,
				newCyclic: s.normNewCyclic, role: name}
			rule := describe("hidden", s.hid, false)
			var why []string
			if !part.bias && s.normScale != 1 {
				rule += fmt.Sprintf(", gain ×sqrt(s)=%.6g", s.normScale)
				why = append(why, "gain ×sqrt(s)")
			}
			if hasNew(s.hid) {
				if !part.bias && s.normNewCyclic {
					rule += ", new gains cyclic"
				} else {
					rule += ", new entries 0"
				}
			}
			if fold != 1 {
				rule += fmt.Sprintf(", ×1/%g (tied-head fold)", 1/fold)
				if f := 1 / fold; f != math.Exp2(math.Round(math.Log2(f))) {
					why = append(why, fmt.Sprintf("fold by 1/%g", f))
				}
			}
			add(name, part.t, []int{s.hid.dst}, rule, fold != 1 || (!part.bias && s.normScale != 1), why...)
			if part.bias {
				out.B = newLazyVector(part.t, r)
			} else {
				out.W = newLazyVector(part.t, r)
			}
		}
		return out
	}

	out.Embed = embed("embed", g.Embed, vocab)
	if g.Pos != nil {
		out.Pos = embed("pos", g.Pos, identityMap(g.Pos.Shape()[0]))
	}
	if g.TokenType != nil {
		out.TokenType = embed("token_type", g.TokenType, identityMap(g.TokenType.Shape()[0]))
	}
	out.EmbedNorm = norm("embed_norm", g.EmbedNorm, 1)
	for l, L := range g.Layers {
		p := fmt.Sprintf("layers.%d.", l)
		var n graph.Layer
		n.AttnNorm = norm(p+"attn_norm", L.AttnNorm, 1)
		n.MLPNorm = norm(p+"mlp_norm", L.MLPNorm, 1)
		n.Q = lin(p+"attn.q", L.Q, s.q, s.hid, "q", "hidden")
		n.K = lin(p+"attn.k", L.K, s.kv, s.hid, "kv", "hidden")
		n.V = lin(p+"attn.v", L.V, s.kv, s.hid, "kv", "hidden")
		n.O = lin(p+"attn.o", L.O, s.hid, s.q, "hidden", "q")
		n.Up = lin(p+"mlp.up", L.Up, s.ffn, s.hid, "ffn", "hidden")
		n.Gate = lin(p+"mlp.gate", L.Gate, s.ffn, s.hid, "ffn", "hidden")
		n.Down = lin(p+"mlp.down", L.Down, s.hid, s.ffn, "hidden", "ffn")
		out.Layers[l] = n
	}

	// The head reads the final norm's output (BERT: the MLM transform's norm),
	// in which every hidden coordinate appears headCopies times.
	fold := 1.0
	out.Tied = g.Tied
	headSrc := g.Head
	if g.Tied {
		headSrc = g.Embed
	}
	hasMLM := g.MLMTransform.W != nil
	switch {
	case headSrc == nil:
	case g.Tied && headCopies == 1:
		out.Head = nil // the tie stays exact: the grown embedding's extra columns meet zeros
	case g.Tied && opts.KeepTied:
		if g.Features().MLMHead && !hasMLM {
			return nil, fmt.Errorf("expand: --keep-tied: this %s model has no MLM transform norm to fold 1/q into; drop --keep-tied to untie the head", g.Descriptor().Name)
		}
		fold = 1 / float64(headCopies)
		out.Head = nil
	default:
		out.Head = mat("head", headSrc, vocab, s.hid, "vocab", "hidden", false)
		out.Tied = false
	}
	if g.Tied && !out.Tied {
		plan.Notes = append(plan.Notes, fmt.Sprintf("the tied head is untied and written (hidden copies %d need 1/%d on the head only); --keep-tied folds it into the final norm instead", headCopies, headCopies))
	}
	plan.DstTied = out.Tied
	if hasMLM {
		out.FinalNorm = norm("final_norm", g.FinalNorm, 1)
		out.MLMTransform = graph.Linear{
			W: mat("mlm.transform.weight", g.MLMTransform.W, s.hid, s.hid, "hidden", "hidden", false),
			B: vec("mlm.transform.bias", g.MLMTransform.B, s.hid, "hidden"),
		}
		out.MLMNorm = norm("mlm.norm", g.MLMNorm, fold)
	} else {
		out.FinalNorm = norm("final_norm", g.FinalNorm, fold)
	}
	if g.HeadBias != nil {
		add("head.bias", g.HeadBias, g.HeadBias.Shape(), "kept", false)
	}
	out.Extras = make([]graph.Extra, len(g.Extras))
	for i, e := range g.Extras {
		out.Extras[i] = e
		if e.Rule != "hidden" {
			if e.T != nil {
				add("extra "+e.Name, e.T, e.T.Shape(), e.Rule, false)
			}
			continue
		}
		sh := e.T.Shape()
		switch {
		case len(sh) == 1 && sh[0] == g.Hidden:
			out.Extras[i].T = vec("extra "+e.Name, e.T, s.hid, "hidden")
		case len(sh) == 2 && (sh[0] == g.Hidden || sh[1] == g.Hidden):
			rows, cols, rk, ck := identityMap(sh[0]), identityMap(sh[1]), "rows", "cols"
			if sh[0] == g.Hidden {
				rows, rk = s.hid, "hidden"
			}
			if sh[1] == g.Hidden {
				cols, ck = s.hid, "hidden"
			}
			out.Extras[i].T = mat("extra "+e.Name, e.T, rows, cols, rk, ck, false)
		default:
			return nil, fmt.Errorf("expand: extra tensor %q (%s) has shape %v with no hidden axis of size %d; no rule to grow it", e.Name, e.Role, sh, g.Hidden)
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if g.Config != nil {
		// the grown graph carries its own config (dims, eps, tie flag written in)
		out.Config = out.OutputConfig()
	}
	params := map[string]any{"method": string(s.op)}
	for k, v := range s.params {
		params[k] = v
	}
	if opts.KeepTied {
		params["keep_tied"] = true
	}
	params["seed"] = opts.Seed
	return &Result{Graph: &out, Plan: plan, Params: params,
		Mapping: claim.Mapping{Operator: string(s.op), Class: s.class, Hidden: s.hiddenMap}}, nil
}

func isUniformOne(m *axisMap) bool {
	for _, c := range m.count {
		if c != 1 {
			return false
		}
	}
	return true
}
