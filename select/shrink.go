package selection

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/graph/family"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/transform"
)

// Element selection rules (Shrink.Elements).
const (
	ElementsUniform    = "uniform"
	ElementsFirst      = "first"
	ElementsRandom     = "random"
	ElementsImportance = "importance"
)

// Layer selection rules (Shrink.LayersFrom).
const (
	LayersFirst      = "first"
	LayersLast       = "last"
	LayersUniform    = "uniform"
	LayersImportance = "importance"
)

// Shrink initialises a smaller model of the teacher's architecture from a
// subset of its weights, as weight selection does (Xu et al. 2024,
// "Initializing Models with Larger Ones"): student blocks are teacher blocks,
// and every axis keeps one index set that every tensor on it shares (the
// residual stream everywhere, each block's heads and FFN units). Whole heads
// are kept (RoPE pairs and frequencies stay whole), whole key/value groups
// with query heads from the group that owns them, one FFN unit set for
// gate, up and down; nothing is rescaled, so every student entry is a teacher
// entry, and a tied head stays tied. With Elements "importance" the units are
// ranked by their activations on calibration text (Scores). The result is
// NON-PRESERVING: it starts from the teacher's knowledge, not its function.
type Shrink struct {
	Target
	// LayersFrom picks the teacher blocks: "first" (the default, as the
	// paper's code), "last", "uniform" (spread evenly, the first and the last
	// kept) or "importance"; LayerMap lists them instead ("0,2,4").
	LayersFrom string
	LayerMap   string
	// Elements picks the units of every axis: "uniform" (the default),
	// "first", "random" or "random:SEED", or "importance".
	Elements string
	// Calib are the calibration sequences (token ids) that importance
	// ranks by; Scores, when set, are their scores already computed.
	Calib  [][]int
	Scores *Scores
}

var _ grow.Operator = (*Shrink)(nil)

// Name implements grow.Operator.
func (*Shrink) Name() string { return "shrink" }

// Summary implements grow.Operator.
func (*Shrink) Summary() string {
	return "a smaller model made of a consistent subset of the teacher's weights (weight selection); NON-PRESERVING"
}

// Params implements grow.Operator.
func (o *Shrink) Params() []grow.Param {
	return []grow.Param{
		{Name: "hidden", Usage: "student hidden width (default: the teacher's)", Value: &o.Hidden},
		{Name: "heads", Usage: "student query heads (default: in proportion to the hidden width)", Value: &o.Heads},
		{Name: "kv-heads", Usage: "student key/value heads (default keeps the query heads per group)", Value: &o.KVHeads},
		{Name: "ffn", Usage: "student FFN width (default: in proportion to the hidden width)", Value: &o.FFN},
		{Name: "layers", Usage: "student layers (default: the teacher's)", Value: &o.Layers},
		{Name: "layers-from", Usage: "teacher blocks kept: first (default), last, uniform or importance", Value: &o.LayersFrom},
		{Name: "layer-map", Usage: "teacher blocks kept, in order, e.g. 0,2,4", Value: &o.LayerMap},
		{Name: "elements", Usage: "units kept on every axis: uniform, first, random[:seed] or importance", Value: &o.Elements},
	}
}

// Examples are student shapes a teacher g can give: half of every size,
// the same size (the identity) and per-layer importance.
func (*Shrink) Examples(g *graph.Graph) []grow.Operator {
	d := g.Dims
	half := Target{Heads: max(d.Heads/2, d.Heads/d.KVHeads), FFN: max(d.FFN/2, 1), Layers: max(d.Layers/2, 1)}
	half.KVHeads = half.Heads / (d.Heads / d.KVHeads)
	if g.Features().HeadDim == family.Derived { // derived head_dim: the hidden width follows the heads
		half.Hidden = half.Heads * d.HeadDim
	} else {
		half.Hidden = d.Hidden / 2
	}
	return []grow.Operator{
		&Shrink{Target: half},
		&Shrink{Target: half, Elements: ElementsFirst, LayersFrom: LayersLast},
		&Shrink{Target: half, Elements: "random:3", LayerMap: "0"},
		&Shrink{},
	}
}

// Selection returns the index sets of o for the teacher g and the student's
// dims.
func (o *Shrink) Selection(g *graph.Graph) (*Sets, graph.Dims, error) {
	dims, err := o.Target.Resolve(g)
	if err != nil {
		return nil, dims, err
	}
	rule, seed, err := parseElements(o.Elements)
	if err != nil {
		return nil, dims, err
	}
	layers, err := o.layers(g, &dims)
	if err != nil {
		return nil, dims, err
	}
	sc := o.Scores
	wantBlocks := o.LayersFrom == LayersImportance && o.LayerMap == ""
	if sc != nil && wantBlocks && sc.Blocks == nil {
		sc = nil // measured without the blocks: measure again
	}
	if sc == nil && (rule == ElementsImportance || wantBlocks) {
		if len(o.Calib) == 0 {
			return nil, dims, fmt.Errorf("importance needs calibration text: give --calib-ids FILE (token ids, one sequence per line)")
		}
		if sc, err = Measure(g, o.Calib, wantBlocks); err != nil {
			return nil, dims, err
		}
		o.Scores = sc
	}
	if wantBlocks {
		layers = Top(sc.Blocks, dims.Layers)
	}
	d := g.Dims
	gq, gq2 := d.Heads/d.KVHeads, dims.Heads/dims.KVHeads
	s := &Sets{Layers: layers}
	pick := func(t, n int) []int {
		switch rule {
		case ElementsFirst:
			return First(t, n)
		default:
			return Uniform(t, n)
		}
	}
	switch rule {
	case ElementsImportance:
		s.Hidden = Top(sc.Hidden, dims.Hidden)
		for _, tl := range layers {
			kv := Top(sc.KVHeads[tl], dims.KVHeads)
			var heads []int
			for _, k := range kv {
				in := Top(sc.Heads[tl][k*gq:(k+1)*gq], gq2)
				for _, h := range in {
					heads = append(heads, k*gq+h)
				}
			}
			s.KVHeads = append(s.KVHeads, kv)
			s.Heads = append(s.Heads, heads)
			s.FFN = append(s.FFN, Top(sc.FFN[tl], dims.FFN))
		}
	case ElementsRandom:
		rng := rand.New(rand.NewPCG(uint64(seed), 0x73656c656374)) // "select"
		s.Hidden = Random(rng, d.Hidden, dims.Hidden)
		kv := Random(rng, d.KVHeads, dims.KVHeads)
		var heads []int
		for _, k := range kv {
			for _, h := range Random(rng, gq, gq2) {
				heads = append(heads, k*gq+h)
			}
		}
		s.KVHeads, s.Heads = PerLayer{kv}, PerLayer{heads}
		s.FFN = PerLayer{Random(rng, d.FFN, dims.FFN)}
	default:
		s.Hidden = pick(d.Hidden, dims.Hidden)
		kv := pick(d.KVHeads, dims.KVHeads)
		var heads []int
		for _, k := range kv {
			for _, h := range pick(gq, gq2) {
				heads = append(heads, k*gq+h)
			}
		}
		s.KVHeads, s.Heads = PerLayer{kv}, PerLayer{heads}
		s.FFN = PerLayer{pick(d.FFN, dims.FFN)}
	}
	return s, dims, nil
}

// parseElements splits "random:7" into the rule and its seed.
func parseElements(e string) (rule string, seed int64, err error) {
	if e == "" {
		return ElementsUniform, 0, nil
	}
	rule, arg, hasArg := strings.Cut(e, ":")
	switch {
	case rule == ElementsRandom && hasArg:
		if seed, err = strconv.ParseInt(arg, 10, 64); err != nil {
			return "", 0, fmt.Errorf("--elements %q: the seed %q is not a whole number", e, arg)
		}
	case hasArg:
		return "", 0, fmt.Errorf("--elements %q: only random takes a seed (random:SEED)", e)
	case rule == ElementsUniform || rule == ElementsFirst || rule == ElementsRandom || rule == ElementsImportance:
	default:
		return "", 0, fmt.Errorf("--elements %q: want uniform, first, random, random:SEED or importance", e)
	}
	return rule, seed, nil
}

// layers returns the teacher blocks the student keeps (importance: nil,
// chosen from the scores), and sets dims.Layers from an explicit map when no
// depth was asked for.
func (o *Shrink) layers(g *graph.Graph, dims *graph.Dims) ([]int, error) {
	L := len(g.Layers)
	if o.LayerMap != "" {
		if o.LayersFrom != "" {
			return nil, fmt.Errorf("give --layers-from or --layer-map, not both")
		}
		var out []int
		for _, f := range strings.Split(o.LayerMap, ",") {
			l, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || l < 0 || l >= L {
				return nil, fmt.Errorf("--layer-map %q: %q is not a teacher block in 0..%d", o.LayerMap, f, L-1)
			}
			out = append(out, l)
		}
		if o.Layers != 0 && len(out) != o.Layers {
			return nil, fmt.Errorf("--layer-map %q names %d blocks, but --layers says %d", o.LayerMap, len(out), o.Layers)
		}
		dims.Layers = len(out)
		return out, nil
	}
	n := dims.Layers
	switch o.LayersFrom {
	case "", LayersFirst:
		return First(L, n), nil
	case LayersLast:
		out := First(L, n)
		for i := range out {
			out[i] += L - n
		}
		return out, nil
	case LayersUniform:
		return Spread(L, n), nil
	case LayersImportance:
		return nil, nil
	}
	return nil, fmt.Errorf("--layers-from %q: want first, last, uniform or importance", o.LayersFrom)
}

// Plan implements grow.Operator: the index sets of Selection as the engine's
// maps.
func (o *Shrink) Plan(g *graph.Graph) (*transform.Plan, error) {
	s, dims, err := o.Selection(g)
	if err != nil {
		return nil, err
	}
	return PlanOf(g, s, dims, o.params(s, dims))
}

// params are the parameters the output records.
func (o *Shrink) params(s *Sets, dims graph.Dims) map[string]any {
	rule, seed, _ := parseElements(o.Elements)
	p := map[string]any{"method": "shrink", "hidden": dims.Hidden, "heads": dims.Heads, "kv_heads": dims.KVHeads,
		"ffn": dims.FFN, "layers": dims.Layers, "elements": rule, "selection": s}
	if rule == ElementsRandom {
		p["seed"] = seed
	}
	switch {
	case o.LayerMap != "":
		p["layer_map"] = o.LayerMap
	case o.LayersFrom == "":
		p["layers_from"] = LayersFirst
	default:
		p["layers_from"] = o.LayersFrom
	}
	if o.Scores != nil {
		p["calibration_tokens"] = o.Scores.Tokens
	}
	return p
}

// PlanOf is the engine's plan of the index sets s for teacher g and student
// dims: a selection on every axis, the kept blocks copied.
func PlanOf(g *graph.Graph, s *Sets, dims graph.Dims, params map[string]any) (*transform.Plan, error) {
	d := g.Dims
	p := &transform.Plan{Operator: "shrink", Class: claim.NonPreserving, Dims: dims, Maps: map[graph.Axis]*transform.Map{},
		Values: transform.Values{AsIs: true}, Params: params,
		HiddenText: "not preserved: a new, smaller model whose every weight is a teacher weight"}
	identity := true
	sel := func(n int, idx []int) (*transform.Map, error) {
		identity = identity && n == len(idx) && slices.Equal(idx, First(n, n))
		return transform.Select(n, idx)
	}
	var err error
	if p.Maps[graph.Residual], err = sel(d.Hidden, s.Hidden); err != nil {
		return nil, fmt.Errorf("hidden: %w", err)
	}
	axes := func(l int) (map[graph.Axis]*transform.Map, error) {
		q, err := sel(d.Heads, s.Heads.At(l))
		if err != nil {
			return nil, fmt.Errorf("heads: %w", err)
		}
		kv, err := sel(d.KVHeads, s.KVHeads.At(l))
		if err != nil {
			return nil, fmt.Errorf("key/value heads: %w", err)
		}
		f, err := sel(d.FFN, s.FFN.At(l))
		if err != nil {
			return nil, fmt.Errorf("ffn: %w", err)
		}
		return map[graph.Axis]*transform.Map{graph.QHeads: transform.Block(q, d.HeadDim),
			graph.KVHeads: transform.Block(kv, d.HeadDim), graph.FFN: f}, nil
	}
	if s.Heads.Shared() && s.KVHeads.Shared() && s.FFN.Shared() {
		m, err := axes(0)
		if err != nil {
			return nil, err
		}
		for a, x := range m {
			p.Maps[a] = x
		}
	} else {
		for l := range s.Layers {
			m, err := axes(l)
			if err != nil {
				return nil, fmt.Errorf("layer %d: %w", l, err)
			}
			p.LayerMaps = append(p.LayerMaps, m)
		}
	}
	identity = identity && slices.Equal(s.Layers, First(d.Layers, d.Layers))
	if !identity {
		for _, l := range s.Layers {
			p.Layers = append(p.Layers, transform.Copy(l))
		}
		p.StateMap = []int{} // hidden states of another width: no layer map to claim
		return p, nil
	}
	// the same size: every tensor is the teacher's
	p.Class, p.HiddenText = claim.BitExact, "h' = h (every index kept)"
	p.Hidden = claim.HiddenMap{Kind: "tile", Src: d.Hidden, Dst: d.Hidden}
	return p, nil
}
