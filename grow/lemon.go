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
type LEMON struct {
	Width
	// SplitScale is the random fan-in split scale; 0 means
	// DefaultSplitScale, a negative value uniform splits.
	SplitScale float64
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
	ps = append(ps, Param{Name: "split-scale", Usage: fmt.Sprintf("random fan-in split scale (default %g; negative: uniform splits)", DefaultSplitScale), Value: &l.SplitScale})
	return append(ps, l.Common.params()...)
}

// Examples implements Examples.
func (*LEMON) Examples(g *graph.Graph) []Operator {
	d := g.Dims
	out := []Operator{&LEMON{Width: Width{Hidden: 2 * d.Hidden}, Common: Common{Seed: 3}}}
	if !g.PostLN {
		// a non-multiple target: the heads keep head_dim and divide it
		hidden := d.Hidden + d.HeadDim*max(1, d.Heads/2)
		out = append(out, &LEMON{Width: Width{Hidden: hidden, FFN: d.FFN + 3}, Common: Common{Seed: 5, KeepTied: g.Tied}})
	}
	return out
}

// Plan implements Operator.
func (l *LEMON) Plan(g *graph.Graph) (*transform.Plan, error) {
	if err := l.check(g); err != nil {
		return nil, err
	}
	d := g.Dims
	if l.Hidden == 0 {
		return nil, fmt.Errorf("lemon needs --hidden (the target width, source %d)", d.Hidden)
	}
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
	l.record(p)
	return p, nil
}
