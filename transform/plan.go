package transform

import (
	"fmt"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
)

// Plan is what an operator asks of the engine: per-axis index maps, value
// rules, a layer map and the claim the result makes. Apply carries it out on
// every tensor of a graph by the axes its role declares (graph.Decl), so an
// operator never names a tensor.
type Plan struct {
	// Operator names the operator ("hypercloning"); Class is the exactness
	// class it claims (claim.Exact, ...).
	Operator string
	Class    string
	// Dims are the result's sizes. Layers must equal len(Layers) when a
	// layer map is given, else the source's layer count.
	Dims graph.Dims
	// Maps are the index maps of the axes that change; an axis without one
	// keeps its indices.
	Maps map[graph.Axis]*Map
	// LayerMaps, when not nil, has one entry per layer of the result: maps
	// of that layer's own axes (query and key/value heads, FFN units) that
	// replace Maps' inside the layer, so that each block may keep its own
	// units (weight selection by importance). The axes shared by the whole
	// model (the residual stream, the vocabulary, positions) cannot be
	// given per layer.
	LayerMaps []map[graph.Axis]*Map
	// Layers says where each layer of the result comes from; nil keeps the
	// source's layers.
	Layers []LayerSource
	// Values are the rules for the values of copied and new indices.
	Values Values
	// KeepTied keeps a tied output head tied when the residual stream is
	// copied: the head's 1/copies is folded into the norm that feeds it.
	// Otherwise such a head is untied and written.
	KeepTied bool
	// Untie writes a tied output head as a tensor of its own (the
	// embedding's values, grown by the head's rules), so that its new rows
	// can differ from the embedding's (vocabulary extension).
	Untie bool
	// Seed makes every random value reproducible; each tensor draws from its
	// own stream, keyed by its role.
	Seed int64
	// StateMap, when set, is the claim's layer map instead of LayerMap's
	// (an operator whose new blocks pass the stream through by other means,
	// such as MSG's masks).
	StateMap []int
	// Hidden maps the source's hidden states to the result's, for the claim;
	// HiddenText says it in words for the plan.
	Hidden     claim.HiddenMap
	HiddenText string
	// Notes are printed with the plan; Params are recorded in the output.
	Notes  []string
	Params map[string]any
}

// Values are the value rules of a plan.
type Values struct {
	// NormScale multiplies copied residual norm gains (LEMON's sqrt(s));
	// EpsScale multiplies the norms' epsilon. 0 means 1.
	NormScale, EpsScale float64
	// NormNewCyclic fills new residual norm gains cyclically from the
	// source's (scaled as copied ones); NormNewOne fills them with 1 (a
	// fresh norm's gain); otherwise they are 0.
	NormNewCyclic, NormNewOne bool
	// Perturb breaks the symmetry of copied inputs of the layers' linear maps
	// with values that sum to zero over the copies.
	Perturb Perturb
	// FreeStd is the standard deviation of free values (FillFree indices):
	// relative to the tensor's root mean square, or absolute with AbsRandom.
	// 0 writes zeros.
	FreeStd   float64
	AbsRandom bool
	// AsIs keeps every value the source's as it is: a family that scales its
	// embeddings by sqrt(hidden) does not get its embedding rescaled for a
	// new hidden width (weight selection copies entries, it does not keep
	// the stream).
	AsIs bool
}

// Perturb is a zero-sum perturbation over the copies of an input.
type Perturb struct {
	Kind PerturbKind
	// Rel is the standard deviation relative to rms(W)/copies.
	Rel float64
	// SNRDB is the signal-to-noise ratio the noise was asked for, for the
	// plan's text.
	SNRDB float64
}

// PerturbKind is the kind of a zero-sum perturbation.
type PerturbKind int

// Perturbations.
const (
	// NoPerturb adds nothing.
	NoPerturb PerturbKind = iota
	// Noise is HyperCloning's: +N on copy 2p, -N on copy 2p+1.
	Noise
	// Split is LEMON's random fan-in split: R_k - mean_k R over the copies.
	Split
)

// LayerSource says where one layer of the result comes from.
type LayerSource struct {
	// From are the source layers combined into it: one with weight 1 copies
	// that layer; several make every tensor Σ Weight·tensor of Layer (TLEG's
	// linear expansion, a stage's mean).
	From []Weighted
	// Identity makes the block add nothing to the residual stream: its
	// attention-output and MLP-output projections (and their biases) are
	// zero, the rest is From's. Exact for pre-LN blocks only.
	Identity bool
	// Cancel, with Identity, gives the output projections the plan's
	// zero-sum perturbation over the copies of each input instead of zeros
	// (LEMON's cancelzero): the block still adds nothing, since the copies
	// of an input are equal, but its outputs start away from zero. Without
	// a perturbation or copies it is Identity.
	Cancel bool
}

// Weighted is a source layer with its weight in a combination.
type Weighted struct {
	Layer  int
	Weight float64
}

// Copy is the layer source that copies source layer l.
func Copy(l int) LayerSource { return LayerSource{From: []Weighted{{l, 1}}} }

// validate checks the plan against the source graph g.
func (p *Plan) validate(g *graph.Graph) error {
	for a, m := range p.Maps {
		if m == nil {
			return fmt.Errorf("transform: %s: nil map for axis %s", p.Operator, a)
		}
		if m.src != g.Dims.Size(a) || m.dst != p.Dims.Size(a) {
			return fmt.Errorf("transform: %s: the %s map goes %d -> %d, but the axis is %d -> %d",
				p.Operator, a, m.src, m.dst, g.Dims.Size(a), p.Dims.Size(a))
		}
	}
	if err := p.validateLayerMaps(g); err != nil {
		return err
	}
	if p.Layers == nil {
		if p.Dims.Layers != len(g.Layers) {
			return fmt.Errorf("transform: %s: %d layers from %d without a layer map", p.Operator, p.Dims.Layers, len(g.Layers))
		}
		return nil
	}
	if len(p.Layers) != p.Dims.Layers {
		return fmt.Errorf("transform: %s: %d layer sources for %d layers", p.Operator, len(p.Layers), p.Dims.Layers)
	}
	for i, ls := range p.Layers {
		if len(ls.From) == 0 {
			return fmt.Errorf("transform: %s: layer %d has no source layer", p.Operator, i)
		}
		for _, w := range ls.From {
			if w.Layer < 0 || w.Layer >= len(g.Layers) {
				return fmt.Errorf("transform: %s: layer %d comes from layer %d, the source has %d", p.Operator, i, w.Layer, len(g.Layers))
			}
		}
	}
	return nil
}

// layerAxes are the axes a plan may map per layer (Plan.LayerMaps).
var layerAxes = map[graph.Axis]bool{graph.QHeads: true, graph.KVHeads: true, graph.FFN: true}

// validateLayerMaps checks the per-layer maps: one entry per result layer,
// only the axes of a block, each of the axis's sizes.
func (p *Plan) validateLayerMaps(g *graph.Graph) error {
	if p.LayerMaps == nil {
		return nil
	}
	if len(p.LayerMaps) != p.Dims.Layers {
		return fmt.Errorf("transform: %s: %d per-layer maps for %d layers", p.Operator, len(p.LayerMaps), p.Dims.Layers)
	}
	for l, ms := range p.LayerMaps {
		for a, m := range ms {
			switch {
			case !layerAxes[a]:
				return fmt.Errorf("transform: %s: layer %d maps axis %s, which every layer shares", p.Operator, l, a)
			case m == nil:
				return fmt.Errorf("transform: %s: layer %d: nil map for axis %s", p.Operator, l, a)
			case m.src != g.Dims.Size(a) || m.dst != p.Dims.Size(a):
				return fmt.Errorf("transform: %s: layer %d: the %s map goes %d -> %d, but the axis is %d -> %d",
					p.Operator, l, a, m.src, m.dst, g.Dims.Size(a), p.Dims.Size(a))
			}
		}
	}
	return nil
}

// axisIn returns the map of axis a in result layer l (-1: outside the
// layers): the layer's own map when it has one, else axis's.
func (p *Plan) axisIn(l int, a graph.Axis, n int) *Map {
	if l >= 0 && l < len(p.LayerMaps) {
		if m := p.LayerMaps[l][a]; m != nil {
			return m
		}
	}
	return p.axis(a, n)
}

// axis returns the map of axis a (the identity when the plan keeps it).
func (p *Plan) axis(a graph.Axis, n int) *Map {
	if m := p.Maps[a]; m != nil {
		return m
	}
	return Identity(n)
}

// LayerMap returns the claim's layer map of a plan over a source of srcLayers
// layers: entry j is the source hidden state that the result's hidden state j
// (0 the embeddings, l after block l) equals, or -1 where none does; nil when
// the layers are kept.
func (p *Plan) LayerMap(srcLayers int) []int {
	if p.StateMap != nil {
		return p.StateMap
	}
	if p.Layers == nil {
		return nil
	}
	out := make([]int, len(p.Layers)+1)
	for j, ls := range p.Layers {
		prev := out[j]
		switch {
		case prev < 0:
			out[j+1] = -1
		case ls.Identity:
			out[j+1] = prev
		case len(ls.From) == 1 && ls.From[0].Weight == 1 && ls.From[0].Layer == prev && prev < srcLayers:
			out[j+1] = prev + 1
		default:
			out[j+1] = -1
		}
	}
	return out
}
