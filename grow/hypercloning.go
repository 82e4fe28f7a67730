package grow

import (
	"fmt"
	"math"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
)

// hyperCloningSpec is HyperCloning (Samragh et al. 2024, "Scaling Smart", arXiv 2409.12903): hidden,
// query heads and key/value heads ×N (key/value heads kept at 1 for multi-query
// attention), FFN ×M, every consumer of a tiled axis divided by its copy count,
// norms tiled with eps unchanged. Every hidden state of the grown model is
// tile_N(h); the class is EXACT for every family.
func hyperCloningSpec(g *graph.Graph, opts Options) (*spec, error) {
	n, m := opts.WidthFactor, opts.FFNFactor
	if n < 1 {
		return nil, fmt.Errorf("hypercloning: --width-factor %d: want a whole number ≥ 1, the multiplier of the hidden width and heads (2 doubles them)", n)
	}
	if m == 0 {
		m = n
	} else if m < 1 {
		return nil, fmt.Errorf("hypercloning: --ffn-factor %d: want a whole number ≥ 1, the multiplier of the FFN width (default: --width-factor)", m)
	}
	d0 := g.Dims
	if h := float64(n) * float64(d0.Hidden); checkSize("", h) != nil {
		return nil, checkSize(fmt.Sprintf("--width-factor %d: the hidden width %d×%d = %s", n, n, d0.Hidden, size(h)), h)
	}
	if f := float64(m) * float64(d0.FFN); checkSize("", f) != nil {
		return nil, checkSize(fmt.Sprintf("--ffn-factor %d: the FFN width %d×%d = %s", m, m, d0.FFN, size(f)), f)
	}
	if opts.Hidden != 0 || opts.Heads != 0 || opts.KVHeads != 0 || opts.FFN != 0 {
		return nil, fmt.Errorf("hypercloning takes --width-factor and --ffn-factor, not --hidden/--heads/--kv-heads/--ffn (use --method lemon for arbitrary widths)")
	}
	if opts.Noise && (math.IsNaN(opts.NoiseSNRDB) || math.IsInf(opts.NoiseSNRDB, 0)) {
		return nil, fmt.Errorf("hypercloning: --noise-snr-db %v is not a finite number", opts.NoiseSNRDB)
	}
	d := g.Dims
	// Multi-query attention (one key/value head shared by several query
	// heads) keeps its single key/value head; one query head with one
	// key/value head is plain multi-head attention and grows like it (GPT-2
	// and BERT cannot hold fewer key/value heads than query heads).
	mqa := d.KVHeads == 1 && d.Heads > 1
	kvUnits := circularMap(d.KVHeads, n*d.KVHeads)
	if mqa {
		kvUnits = identityMap(1)
	}
	qUnits, err := headMaps(d.Heads, d.KVHeads, n*d.Heads, kvUnits.dst, kvUnits)
	if err != nil {
		return nil, fmt.Errorf("hypercloning: %w", err)
	}
	dims := d
	dims.Hidden, dims.Heads, dims.KVHeads, dims.FFN = n*d.Hidden, n*d.Heads, kvUnits.dst, m*d.FFN
	s := &spec{
		op: HyperCloning, class: claim.Exact, dims: dims,
		hid:       tileResidueMap(d.Hidden, n*d.Hidden, fillZero, fillZero),
		q:         blockMap(qUnits, d.HeadDim),
		kv:        blockMap(kvUnits, d.HeadDim),
		ffn:       circularMap(d.FFN, m*d.FFN),
		normScale: 1, epsScale: 1,
		hiddenMap:  claim.HiddenMap{Kind: "tile", Src: d.Hidden, Dst: n * d.Hidden},
		hiddenText: fmt.Sprintf("h' = tile_%d(h) (every hidden state is %d copies of the source's)", n, n),
		params:     map[string]any{"width_factor": n, "ffn_factor": m},
	}
	if opts.Noise {
		s.perturb = perturbNoise
		s.rel = math.Pow(10, -opts.NoiseSNRDB/20)
		s.params["noise_snr_db"] = opts.NoiseSNRDB
		if n < 2 && m < 2 {
			s.notes = append(s.notes, "noise needs at least two copies of an input; with factors 1 nothing is added")
		}
	}
	if mqa && n > 1 {
		s.notes = append(s.notes, "multi-query attention: the single key/value head is kept (its input columns are still divided)")
	}
	return s, nil
}
