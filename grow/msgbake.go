package grow

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/transform"
)

// Bake returns a plain graph that computes, without masks, what g computes
// under the MSG masks of gs (its masked forward pass), where that is exact:
//
//   - FFN units at any mask value c: the rows that feed a unit's mask (an
//     ungated MLP's up rows and bias, its pre-activation; a gated MLP's up
//     rows and bias, a factor of the product) times c;
//   - heads at any c: the new rows and biases of q, k and v times c;
//   - new blocks at c = 0 (pre-LN only: their output projections become
//     zero, an identity block) or c = 1;
//   - the hidden width at c = 1, or at c = 0 for an RMSNorm model: the new
//     stream coordinates are kept at exactly 0 (the new columns of the
//     embedding tables and the new rows of every map that writes the stream
//     are zero), and the residual norms' gains ×sqrt(s) with eps ×s, s = D/D'
//     (the plain mean square over D' of [h; 0] is s times the masked one),
//     with q and k ×sqrt(s) where a QK-norm shares that eps.
//
// Everything else (a blend of a new block at 0 < c < 1, a LayerNorm or
// post-LN model's hidden growth below 1) has no plain form and is refused,
// naming the reason. Nothing is read from g's tensors until asked.
func Bake(g *graph.Graph, gs *claim.Growth) (*graph.Graph, error) {
	if err := gs.Validate(); err != nil {
		return nil, fmt.Errorf("bake: %w", err)
	}
	if gs.New.Hidden != g.Hidden || gs.New.FFN != g.FFN || gs.New.Layers != len(g.Layers) ||
		gs.New.Heads != g.Heads || gs.New.KVHeads != g.KVHeads {
		return nil, fmt.Errorf("bake: the growth state's sizes (%+v) are not the model's", gs.New)
	}
	c := gs.MaskValue
	hidden := gs.New.Hidden > gs.Old.Hidden && c != 1
	switch {
	case hidden && c != 0:
		return nil, fmt.Errorf("bake: the hidden mask at %g weights the norms' statistics, which no plain norm can: set the masks to 0 or 1 first", c)
	case hidden && (g.NormKind != graph.RMSNorm || g.PostLN):
		return nil, fmt.Errorf("bake: a grown hidden width under masks is exact without them only for pre-LN RMSNorm models; %s centres its norms over every coordinate: set the masks to 1 first", g.Family)
	case len(gs.NewLayers) > 0 && c != 0 && c != 1:
		return nil, fmt.Errorf("bake: a new block at mask %g blends its output with its input, which a plain block cannot: set the masks to 0 or 1 first", c)
	case len(gs.NewLayers) > 0 && c == 0 && g.PostLN:
		return nil, fmt.Errorf("bake: a new post-LN block renormalises the stream even when it adds nothing, so its mask at 0 has no plain form: set the masks to 1 first")
	}
	out := *g
	out.Layers = slices.Clone(g.Layers)
	out.Extras = slices.Clone(g.Extras)
	s := 1.0
	if hidden {
		s = float64(gs.Old.Hidden) / float64(gs.New.Hidden)
		out.Eps = g.Eps * s
		out.Eps, _ = strconv.ParseFloat(strconv.FormatFloat(out.Eps, 'g', 15, 64), 64)
	}
	b := baker{g: g, gs: gs, c: c, hidden: hidden, s: s}
	for _, f := range out.Fields() {
		if *f.T == nil {
			continue
		}
		t, err := b.tensor(f.Role, *f.T)
		if err != nil {
			return nil, err
		}
		*f.T = t
	}
	for i, e := range out.Extras {
		if d, ok := graph.ExtraDecl(e, g.Hidden); ok && hidden {
			out.Extras[i].T = b.writesStream(d, e.T)
		}
	}
	if g.Config != nil {
		out.Config = out.OutputConfig()
	}
	return &out, nil
}

// baker rewrites one masked model's tensors.
type baker struct {
	g      *graph.Graph
	gs     *claim.Growth
	c      float64
	hidden bool    // the hidden width is baked at c = 0
	s      float64 // D/D' when hidden
}

// tensor is the baked tensor of one role.
func (b *baker) tensor(role string, t graph.Tensor) (graph.Tensor, error) {
	d, ok := graph.DeclOf(role)
	if !ok {
		return nil, fmt.Errorf("bake: role %q declares no axes", role)
	}
	layer, name := graph.SplitRole(role)
	gs := b.gs
	if layer >= 0 && b.c == 0 && slices.Contains(gs.NewLayers, layer) && outputsOf[name] {
		return transform.Zeros(t), nil
	}
	hd := gs.New.HeadDim
	rows := func(old, n int, v float64) []float64 { return tail(old, n, v) }
	var scale []float64
	switch name {
	case "mlp.up.weight", "mlp.up.bias":
		scale = rows(gs.Old.FFN, gs.New.FFN, b.c)
	case "attn.q.weight", "attn.q.bias":
		scale = rows(gs.Old.Heads*hd, gs.New.Heads*hd, b.c)
	case "attn.k.weight", "attn.k.bias", "attn.v.weight", "attn.v.bias":
		scale = rows(gs.Old.KVHeads*hd, gs.New.KVHeads*hd, b.c)
	}
	if b.hidden && b.g.Features().QKNorm && (name == "attn.q.weight" || name == "attn.q.bias" ||
		name == "attn.k.weight" || name == "attn.k.bias") {
		for i := range scale {
			scale[i] *= math.Sqrt(b.s)
		}
	}
	if scale != nil {
		t = rowScaled{t, scale}
	}
	if !b.hidden {
		return t, nil
	}
	if d.Kind == graph.KindNormWeight && d.Axes[0] == graph.Residual {
		return rowScaled{t, tail(gs.New.Hidden, gs.New.Hidden, 0, math.Sqrt(b.s))}, nil
	}
	return b.writesStream(d, t), nil
}

// writesStream zeroes the new stream coordinates a tensor writes: a linear
// map's or a bias's new residual rows, a table's new residual columns.
func (b *baker) writesStream(d graph.Decl, t graph.Tensor) graph.Tensor {
	old, n := b.gs.Old.Hidden, b.gs.New.Hidden
	switch {
	case d.Kind == graph.KindTable:
		return colScaled{t, tail(old, n, 0)}
	case (d.Kind == graph.KindLinear || d.Kind == graph.KindBias) && d.Axes[0] == graph.Residual:
		return rowScaled{t, tail(old, n, 0)}
	}
	return t
}

// outputsOf are the roles an identity block zeroes.
var outputsOf = map[string]bool{"attn.o.weight": true, "attn.o.bias": true, "mlp.down.weight": true, "mlp.down.bias": true}

// tail is n factors: 1 (or lead[0]) for the first old, v after.
func tail(old, n int, v float64, lead ...float64) []float64 {
	first := 1.0
	if len(lead) > 0 {
		first = lead[0]
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = v
		if i < old {
			out[i] = first
		}
	}
	return out
}

// rowScaled is a tensor whose rows (first axis) are multiplied by scale.
type rowScaled struct {
	graph.Tensor
	scale []float64
}

func (r rowScaled) Float64() ([]float64, error) {
	v, err := r.Tensor.Float64()
	if err != nil {
		return nil, err
	}
	v = slices.Clone(v) // it may be the source's own backing data
	n := len(v) / len(r.scale)
	for i, c := range r.scale {
		if c != 1 {
			for j := i * n; j < (i+1)*n; j++ {
				v[j] *= c
			}
		}
	}
	return v, nil
}

func (r rowScaled) Float32() ([]float32, error) { return graph.Float32Of(r.Float64()) }

// colScaled is a matrix whose columns are multiplied by scale.
type colScaled struct {
	graph.Tensor
	scale []float64
}

func (c colScaled) Float64() ([]float64, error) {
	v, err := c.Tensor.Float64()
	if err != nil {
		return nil, err
	}
	v = slices.Clone(v) // it may be the source's own backing data
	for i := range v {
		v[i] *= c.scale[i%len(c.scale)]
	}
	return v, nil
}

func (c colScaled) Float32() ([]float32, error) { return graph.Float32Of(c.Float64()) }
