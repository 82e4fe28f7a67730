package grow

import (
	"fmt"
	"math"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
)

// lemonSpec is LEMON's width expansion (Wang et al. 2024, "LEMON: Lossless model expansion", arXiv 2310.07999): any
// hidden width D' ≥ D with q = D'/D copies of the stream and r = D' mod D
// residue coordinates holding the per-token mean (LayerNorm: average expansion)
// or 0 (RMSNorm: zero expansion); norm gains ×sqrt(s) and eps ×s with s = qD/D';
// heads (whole key/value groups) and FFN units replicated circularly with random
// fan-in splits that sum to the source. Post-LN (BERT) only for r = 0.
func lemonSpec(g *graph.Graph, opts Options) (*spec, error) {
	d := g.Dims
	if opts.Hidden == 0 && opts.WidthFactor == 0 && opts.FFNFactor == 0 && !opts.Noise {
		return nil, fmt.Errorf("lemon needs --hidden (the target width, source %d)", d.Hidden)
	}
	if g.PostLN && opts.Hidden%d.Hidden != 0 && opts.Hidden > d.Hidden {
		q := opts.Hidden / d.Hidden
		return nil, fmt.Errorf("lemon: %s is post-LN, where only a multiple of the hidden width is lossless (a LayerNorm output cannot be kept in average-expanded form); --hidden %d is not a multiple of %d (try %d or %d)", g.Family, opts.Hidden, d.Hidden, q*d.Hidden, (q+1)*d.Hidden)
	}
	t, err := explicitTarget(LEMON, g, opts)
	if err != nil {
		return nil, err
	}
	D2, h2, k2, i2 := t.Hidden, t.Heads, t.KVHeads, t.FFN
	q, r := D2/d.Hidden, D2%d.Hidden
	kvUnits := circularMap(d.KVHeads, k2)
	qUnits, err := headMaps(d.Heads, d.KVHeads, h2, k2, kvUnits)
	if err != nil {
		return nil, fmt.Errorf("lemon: %w", err)
	}
	sc := float64(q*d.Hidden) / float64(D2)
	fill, fillName := fillZero, "zero"
	text := "h' = V_zero(h) = [h tiled %d times, 0 on %d residue coordinates] (RMSNorm: zero expansion)"
	if g.NormKind == graph.LayerNorm {
		fill, fillName = fillMean, "mean"
		text = "h' = V_avg(h) = [h tiled %d times, mean(h) on %d residue coordinates] (LayerNorm: average expansion)"
	}
	split := opts.SplitScale
	if split == 0 {
		split = DefaultSplitScale
	}
	dims := d
	dims.Hidden, dims.Heads, dims.KVHeads, dims.FFN = D2, h2, k2, i2
	s := &spec{
		op: LEMON, class: claim.Exact, dims: dims,
		hid:           tileResidueMap(d.Hidden, D2, fill, fillFree),
		q:             blockMap(qUnits, d.HeadDim),
		kv:            blockMap(kvUnits, d.HeadDim),
		ffn:           circularMap(d.FFN, i2),
		normScale:     math.Sqrt(sc),
		epsScale:      sc,
		normNewCyclic: true,
		hiddenMap:     claim.HiddenMap{Kind: "tile", Src: d.Hidden, Dst: D2, Fill: fillName},
		hiddenText:    fmt.Sprintf(text, q, r),
		params: map[string]any{"hidden": D2, "heads": h2, "kv_heads": k2, "ffn": i2,
			"split_scale": split},
	}
	if split > 0 {
		s.perturb, s.rel, s.freeStd = perturbSplit, split, split
	}
	if r != 0 {
		s.notes = append(s.notes, fmt.Sprintf("s = %d·%d/%d = %.6g: norm gains ×sqrt(s), eps ×s", q, d.Hidden, D2, sc))
	}
	return s, nil
}

// explicitTarget resolves the target sizes of an operator that takes them
// explicitly (--hidden, --heads, --kv-heads, --ffn; opts.Hidden set): heads by
// targetHeads, the FFN by default in proportion to the hidden width. It refuses
// the multiplier flags of HyperCloning and any size below the source's.
func explicitTarget(op Method, g *graph.Graph, opts Options) (graph.Dims, error) {
	d := g.Dims
	if opts.WidthFactor != 0 || opts.FFNFactor != 0 || opts.Noise {
		return d, fmt.Errorf("%s takes --hidden/--heads/--kv-heads/--ffn, not --width-factor/--ffn-factor/--noise-snr-db", op)
	}
	for _, f := range []struct {
		flag string
		v    int
	}{{"--hidden", opts.Hidden}, {"--heads", opts.Heads}, {"--kv-heads", opts.KVHeads}, {"--ffn", opts.FFN}} {
		if err := checkSize(fmt.Sprintf("%s %d", f.flag, f.v), float64(f.v)); err != nil {
			return d, err
		}
	}
	D2 := opts.Hidden
	if f := float64(d.FFN) * float64(D2) / float64(d.Hidden); opts.FFN == 0 && checkSize("", f) != nil {
		return d, checkSize(fmt.Sprintf("the FFN width that --hidden %d implies (%d·%d/%d = %s; give --ffn)", D2, d.FFN, D2, d.Hidden, size(f)), f)
	}
	if D2 < d.Hidden {
		return d, fmt.Errorf("%s: --hidden %d is smaller than the source's %d (grow expand only grows)", op, D2, d.Hidden)
	}
	h2, k2, err := targetHeads(g, opts, D2)
	if err != nil {
		return d, fmt.Errorf("%s: %w", op, err)
	}
	i2 := opts.FFN
	if i2 == 0 {
		i2 = d.FFN * D2 / d.Hidden
	}
	if i2 < d.FFN {
		return d, fmt.Errorf("%s: --ffn %d is smaller than the source's %d (grow expand only grows)", op, i2, d.FFN)
	}
	t := d
	t.Hidden, t.Heads, t.KVHeads, t.FFN = D2, h2, k2, i2
	return t, nil
}
