package grow

import (
	"fmt"
	"math"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/transform"
)

// ZeroPad is zero-padding transfer (Zhang 2021, "Transfer training from
// smaller language model", arXiv 2104.11390): the source weights in the
// leading indices, zeros where exactness needs them (rows that write new
// hidden coordinates, output columns of new heads and FFN units, new
// LayerNorm gains) and zeros or PadStd random values where the forward pass
// multiplies them by zero. Norm gains ×sqrt(D/D') and eps ×D/D'. EXACT for
// RMSNorm; APPROX for LayerNorm once the hidden width grows, since the mean
// of [h; 0] is not mean(h).
type ZeroPad struct {
	Width
	// PadStd is the standard deviation of the free new values (columns that
	// read zeros, rows of new units whose outputs are discarded); 0 writes
	// zeros.
	PadStd float64
	Common
}

func init() { Register(func() Operator { return &ZeroPad{} }) }

// Name implements Operator.
func (*ZeroPad) Name() string { return "zeropad" }

// Summary implements Operator.
func (*ZeroPad) Summary() string {
	return "the source in the leading indices, zeros (or small random values where they meet zeros) elsewhere; EXACT for RMSNorm models"
}

// Params implements Operator.
func (z *ZeroPad) Params() []Param {
	ps := z.Width.params()
	ps = append(ps, Param{Name: "pad-std", Usage: "standard deviation of the free new values (default 0: zeros)", Value: &z.PadStd})
	return append(ps, z.Common.params()...)
}

// Examples implements Examples.
func (*ZeroPad) Examples(g *graph.Graph) []Operator {
	d := g.Dims
	return []Operator{
		&ZeroPad{Width: Width{FFN: 2*d.FFN + 1}, PadStd: 0.02, Common: Common{Seed: 2}},
		&ZeroPad{Width: Width{Hidden: d.Hidden + d.HeadDim*max(1, d.Heads/2)}, PadStd: 0.02, Common: Common{Seed: 4}},
	}
}

// Plan implements Operator.
func (z *ZeroPad) Plan(g *graph.Graph) (*transform.Plan, error) {
	if err := z.check(g); err != nil {
		return nil, err
	}
	d := g.Dims
	if z.PadStd < 0 || math.IsNaN(z.PadStd) {
		return nil, fmt.Errorf("zeropad: --pad-std %v must be ≥ 0", z.PadStd)
	}
	w := z.Width
	if w.Hidden == 0 {
		w.Hidden = d.Hidden
	}
	t, err := w.target(z.Name(), g)
	if err != nil {
		return nil, err
	}
	D2, h2, k2, i2 := t.Hidden, t.Heads, t.KVHeads, t.FFN
	kvUnits := transform.Pad(d.KVHeads, k2, transform.FillFree, transform.FillZero)
	qUnits, err := transform.HeadMaps(d.Heads, d.KVHeads, h2, k2, kvUnits)
	if err != nil {
		return nil, fmt.Errorf("zeropad: %w", err)
	}
	sc := float64(d.Hidden) / float64(D2)
	class := claim.Exact
	if g.NormKind == graph.LayerNorm && D2 > d.Hidden {
		class = claim.Approx
	}
	p := &transform.Plan{
		Operator: z.Name(), Class: class, Dims: t,
		Maps: map[graph.Axis]*transform.Map{
			graph.Residual: transform.Pad(d.Hidden, D2, transform.FillZero, transform.FillFree),
			graph.QHeads:   transform.Block(qUnits, d.HeadDim),
			graph.KVHeads:  transform.Block(kvUnits, d.HeadDim),
			graph.FFN:      transform.Pad(d.FFN, i2, transform.FillFree, transform.FillZero),
		},
		Values: transform.Values{NormScale: math.Sqrt(sc), EpsScale: sc, NormNewCyclic: g.NormKind == graph.RMSNorm,
			FreeStd: z.PadStd, AbsRandom: true},
		Hidden:     claim.HiddenMap{Kind: "pad", Src: d.Hidden, Dst: D2, Fill: "zero"},
		HiddenText: fmt.Sprintf("h' = [h; 0] (%d new coordinates)", D2-d.Hidden),
		Params: map[string]any{"method": z.Name(), "hidden": D2, "heads": h2, "kv_heads": k2, "ffn": i2,
			"pad_std": z.PadStd},
	}
	if class == claim.Approx {
		p.Notes = append(p.Notes, fmt.Sprintf("%s uses LayerNorm: the mean and variance of [h; 0] are not those of h, so the result is APPROX (relative error about (1-s)·|mean(h)|/std(h), s = %.4g); --method lemon is exact", g.Family, sc))
	}
	z.record(p)
	return p, nil
}
