package grow

import (
	"fmt"
	"math"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/transform"
)

// DefaultSplitScale is LEMON's default random fan-in split scale, relative to the
// root mean square of each weight divided by its copy count (the LEMON BERT code
// uses 0.1 of the init scale).
const DefaultSplitScale = 0.1

// LEMON is LEMON's width expansion (Wang et al. 2024, "LEMON: Lossless model
// expansion", arXiv 2310.07999): any hidden width D' ≥ D with q = D'/D copies
// of the stream and r = D' mod D residue coordinates holding the per-token
// mean (LayerNorm: average expansion) or 0 (RMSNorm: zero expansion); norm
// gains ×sqrt(s) and eps ×s with s = qD/D'; heads (whole key/value groups) and
// FFN units replicated circularly with random fan-in splits that sum to the
// source. Post-LN (BERT) only for r = 0.
//
// Depth (Layers, L ≤ L' ≤ 2L, alone or with a width target): source blocks
// 0..m0−1 with m0 = 2L − L' keep their place, and after each later block comes
// a new one, a copy of it whose output projections are zero (DepthInit
// "allzero") or cancel over the copies of their inputs ("cancelzero", which
// needs a width growth with random splits to differ from allzero). Pre-LN
// only.
type LEMON struct {
	Width
	// SplitScale is the random fan-in split scale; 0 means
	// DefaultSplitScale, a negative value uniform splits.
	SplitScale float64
	// Layers is the result's depth (0 keeps it); DepthInit the new blocks'
	// output projections, "allzero" (default) or "cancelzero".
	Layers    int
	DepthInit string
	Common
}

func init() { Register(func() Operator { return &LEMON{} }) }

// Name implements Operator.
func (*LEMON) Name() string { return "lemon" }

// Summary implements Operator.
func (*LEMON) Summary() string {
	return "any target width; circular copies with random fan-in splits, average or zero expansion of the residual stream; EXACT (post-LN: multiples only)"
}

// Params implements Operator.
func (l *LEMON) Params() []Param {
	ps := l.Width.params()
	ps = append(ps,
		Param{Name: "split-scale", Usage: fmt.Sprintf("random fan-in split scale (default %g; negative: uniform splits)", DefaultSplitScale), Value: &l.SplitScale},
		Param{Name: "layers", Usage: "the result's number of layers", Value: &l.Layers},
		Param{Name: "depth-init", Usage: "lemon: output projections of new blocks, allzero (default) or cancelzero", Value: &l.DepthInit})
	return append(ps, l.Common.params()...)
}

// Examples implements Examples.
func (*LEMON) Examples(g *graph.Graph) []Operator {
	d := g.Dims
	out := []Operator{&LEMON{Width: Width{Hidden: 2 * d.Hidden}, Common: Common{Seed: 3}}}
	if !g.PostLN {
		// a non-multiple target: the heads keep head_dim and divide it
		hidden := d.Hidden + d.HeadDim*max(1, d.Heads/2)
		out = append(out, &LEMON{Width: Width{Hidden: hidden, FFN: d.FFN + 3}, Common: Common{Seed: 5, KeepTied: g.Tied}},
			&LEMON{Layers: 2*d.Layers - 1},
			&LEMON{Width: Width{Hidden: 2 * d.Hidden}, Layers: 2 * d.Layers, DepthInit: "cancelzero", Common: Common{Seed: 6}})
	}
	return out
}

// Plan implements Operator.
func (l *LEMON) Plan(g *graph.Graph) (*transform.Plan, error) {
	if err := l.check(g); err != nil {
		return nil, err
	}
	d := g.Dims
	if l.Hidden == 0 && l.Layers == 0 {
		return nil, fmt.Errorf("lemon needs --hidden (the target width, source %d) or --layers (the target depth, source %d)", d.Hidden, d.Layers)
	}
	layers, err := l.depth(g)
	if err != nil {
		return nil, err
	}
	if l.Hidden == 0 {
		l := *l
		l.Hidden = d.Hidden
		return l.plan(g, layers)
	}
	return l.plan(g, layers)
}

// depth returns LEMON's layer map (nil when the depth is kept).
func (l *LEMON) depth(g *graph.Graph) ([]transform.LayerSource, error) {
	L := len(g.Layers)
	switch l.DepthInit {
	case "", "allzero", "cancelzero":
	default:
		return nil, fmt.Errorf("lemon: --depth-init %q: want allzero or cancelzero", l.DepthInit)
	}
	if l.Layers == 0 || l.Layers == L {
		if l.DepthInit != "" && l.Layers == 0 {
			return nil, fmt.Errorf("lemon: --depth-init needs --layers")
		}
		return nil, nil
	}
	if l.Layers < L || l.Layers > 2*L {
		return nil, fmt.Errorf("lemon: --layers %d: LEMON grows depth from L to at most 2L, here %d..%d", l.Layers, L, 2*L)
	}
	if g.PostLN {
		return nil, fmt.Errorf("lemon: %s is post-LN: a block that adds nothing still renormalises the stream; LEMON's post-LN depth construction (exact only up to eps) is not implemented", g.Family)
	}
	m0 := 2*L - l.Layers
	var out []transform.LayerSource
	for i := range L {
		out = append(out, transform.Copy(i))
		if i >= m0 {
			out = append(out, transform.LayerSource{From: []transform.Weighted{{Layer: i, Weight: 1}}, Identity: true, Cancel: l.DepthInit == "cancelzero"})
		}
	}
	return out, nil
}

// plan is LEMON's plan for a width target and a layer map.
func (l *LEMON) plan(g *graph.Graph, layers []transform.LayerSource) (*transform.Plan, error) {
	d := g.Dims
	if g.PostLN && l.Hidden%d.Hidden != 0 && l.Hidden > d.Hidden {
		q := l.Hidden / d.Hidden
		return nil, fmt.Errorf("lemon: %s is post-LN, where only a multiple of the hidden width is lossless (a LayerNorm output cannot be kept in average-expanded form); --hidden %d is not a multiple of %d (try %d or %d)", g.Family, l.Hidden, d.Hidden, q*d.Hidden, (q+1)*d.Hidden)
	}
	t, err := l.target(l.Name(), g)
	if err != nil {
		return nil, err
	}
	D2, h2, k2, i2 := t.Hidden, t.Heads, t.KVHeads, t.FFN
	q, r := D2/d.Hidden, D2%d.Hidden
	if r != 0 && g.Headless && g.NormKind == graph.LayerNorm {
		return nil, fmt.Errorf("lemon: a base model's output is its final LayerNorm's, whose residue coordinates average expansion does not keep (they come out 0, not the mean); --hidden %d is not a multiple of %d (try %d or %d)",
			D2, d.Hidden, q*d.Hidden, (q+1)*d.Hidden)
	}
	kvUnits := transform.Circular(d.KVHeads, k2)
	qUnits, err := transform.HeadMaps(d.Heads, d.KVHeads, h2, k2, kvUnits)
	if err != nil {
		return nil, fmt.Errorf("lemon: %w", err)
	}
	sc := float64(q*d.Hidden) / float64(D2)
	fill, fillName := transform.FillZero, "zero"
	text := "h' = V_zero(h) = [h tiled %d times, 0 on %d residue coordinates] (RMSNorm: zero expansion)"
	if g.NormKind == graph.LayerNorm {
		fill, fillName = transform.FillMean, "mean"
		text = "h' = V_avg(h) = [h tiled %d times, mean(h) on %d residue coordinates] (LayerNorm: average expansion)"
	}
	split := l.SplitScale
	if split == 0 {
		split = DefaultSplitScale
	}
	p := &transform.Plan{
		Operator: l.Name(), Class: claim.Exact, Dims: t,
		Maps: map[graph.Axis]*transform.Map{
			graph.Residual: transform.TileResidue(d.Hidden, D2, fill, transform.FillFree),
			graph.QHeads:   transform.Block(qUnits, d.HeadDim),
			graph.KVHeads:  transform.Block(kvUnits, d.HeadDim),
			graph.FFN:      transform.Circular(d.FFN, i2),
		},
		Values:     transform.Values{NormScale: math.Sqrt(sc), EpsScale: sc, NormNewCyclic: true},
		Hidden:     claim.HiddenMap{Kind: "tile", Src: d.Hidden, Dst: D2, Fill: fillName},
		HiddenText: fmt.Sprintf(text, q, r),
		Params: map[string]any{"method": l.Name(), "hidden": D2, "heads": h2, "kv_heads": k2, "ffn": i2,
			"split_scale": split},
	}
	if split > 0 {
		p.Values.Perturb = transform.Perturb{Kind: transform.Split, Rel: split}
		p.Values.FreeStd = split
	}
	if r != 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("s = %d·%d/%d = %.6g: norm gains ×sqrt(s), eps ×s", q, d.Hidden, D2, sc))
	}
	if layers != nil {
		p.Layers, p.Dims.Layers = layers, len(layers)
		init := l.DepthInit
		if init == "" {
			init = "allzero"
		}
		p.Params["layers"], p.Params["depth_init"] = len(layers), init
		p.Notes = append(p.Notes, fmt.Sprintf("depth %d -> %d: a new block (%s outputs) after each of source blocks %d..%d",
			d.Layers, len(layers), init, 2*d.Layers-len(layers), d.Layers-1))
		if init == "cancelzero" && (q < 2 || split <= 0) {
			p.Notes = append(p.Notes, "cancelzero needs copies of the inputs and random splits to differ from allzero; here it writes zeros")
		}
	}
	l.record(p)
	return p, nil
}
