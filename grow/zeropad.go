package grow

import (
	"fmt"
	"math"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
)

// zeroPadSpec is zero-padding transfer (Zhang 2021, "Transfer training from
// smaller language model", arXiv 2104.11390): the source weights in the leading
// indices, zeros where exactness needs them (rows that write new
// hidden coordinates, output columns of new heads and FFN units, new LayerNorm
// gains) and zeros or --pad-std random values where the forward multiplies them
// by zero. Norm gains ×sqrt(D/D') and eps ×D/D'. EXACT for RMSNorm; APPROX for
// LayerNorm once the hidden width grows, since the mean of [h; 0] is not mean(h).
func zeroPadSpec(g *graph.Graph, opts Options) (*spec, error) {
	d := g.Dims
	if opts.PadStd < 0 || math.IsNaN(opts.PadStd) {
		return nil, fmt.Errorf("zeropad: --pad-std %v must be ≥ 0", opts.PadStd)
	}
	if opts.Hidden == 0 {
		opts.Hidden = d.Hidden
	}
	t, err := explicitTarget(ZeroPad, g, opts)
	if err != nil {
		return nil, err
	}
	D2, h2, k2, i2 := t.Hidden, t.Heads, t.KVHeads, t.FFN
	kvUnits := padMap(d.KVHeads, k2, fillFree, fillZero)
	qUnits, err := headMaps(d.Heads, d.KVHeads, h2, k2, kvUnits)
	if err != nil {
		return nil, fmt.Errorf("zeropad: %w", err)
	}
	sc := float64(d.Hidden) / float64(D2)
	class := claim.Exact
	if g.NormKind == graph.LayerNorm && D2 > d.Hidden {
		class = claim.Approx
	}
	dims := d
	dims.Hidden, dims.Heads, dims.KVHeads, dims.FFN = D2, h2, k2, i2
	s := &spec{
		op: ZeroPad, class: class, dims: dims,
		hid:           padMap(d.Hidden, D2, fillZero, fillFree),
		q:             blockMap(qUnits, d.HeadDim),
		kv:            blockMap(kvUnits, d.HeadDim),
		ffn:           padMap(d.FFN, i2, fillFree, fillZero),
		normScale:     math.Sqrt(sc),
		epsScale:      sc,
		normNewCyclic: g.NormKind == graph.RMSNorm,
		freeStd:       opts.PadStd,
		absRandom:     true,
		hiddenMap:     claim.HiddenMap{Kind: "pad", Src: d.Hidden, Dst: D2, Fill: "zero"},
		hiddenText:    fmt.Sprintf("h' = [h; 0] (%d new coordinates)", D2-d.Hidden),
		params:        map[string]any{"hidden": D2, "heads": h2, "kv_heads": k2, "ffn": i2, "pad_std": opts.PadStd},
	}
	if class == claim.Approx {
		s.notes = append(s.notes, fmt.Sprintf("%s uses LayerNorm: the mean and variance of [h; 0] are not those of h, so the result is APPROX (relative error about (1-s)·|mean(h)|/std(h), s = %.4g); --method lemon is exact", g.Family, sc))
	}
	return s, nil
}
