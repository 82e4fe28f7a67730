package grow

import (
	"fmt"
	"math"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/transform"
)

// HyperCloning is HyperCloning (Samragh et al. 2024, "Scaling Smart", arXiv
// 2409.12903): hidden, query heads and key/value heads ×N (key/value heads
// kept at 1 for multi-query attention), FFN ×M, every consumer of a tiled
// axis divided by its copy count, norms tiled with eps unchanged. Every hidden
// state of the grown model is tile_N(h); the class is EXACT for every family.
type HyperCloning struct {
	// WidthFactor N multiplies the hidden width and the heads.
	WidthFactor int
	// FFNFactor M multiplies the FFN width; 0 means WidthFactor.
	FFNFactor int
	// Noise adds zero-sum noise at NoiseSNRDB (signal-to-noise ratio in dB)
	// to the copies of every layer matrix.
	Noise      bool
	NoiseSNRDB float64
	Common
}

func init() { Register(func() Operator { return &HyperCloning{} }) }

// Name implements Operator.
func (*HyperCloning) Name() string { return "hypercloning" }

// Summary implements Operator.
func (*HyperCloning) Summary() string {
	return "hidden, heads and FFN ×N by tiling, with 1/N fan-in division; EXACT for every family"
}

// Params implements Operator.
func (h *HyperCloning) Params() []Param {
	return append([]Param{
		{Name: "width-factor", Usage: "hidden and head-count multiplier N (required)", Value: &h.WidthFactor},
		{Name: "ffn-factor", Usage: "FFN multiplier M (default N)", Value: &h.FFNFactor},
		{Name: "noise-snr-db", Usage: "add zero-sum noise at this signal-to-noise ratio (dB)", Value: &h.NoiseSNRDB, Set: &h.Noise},
	}, h.Common.params()...)
}

// Examples implements Examples.
func (*HyperCloning) Examples(g *graph.Graph) []Operator {
	return []Operator{
		&HyperCloning{WidthFactor: 2},
		&HyperCloning{WidthFactor: 3, FFNFactor: 2, Common: Common{KeepTied: g.Tied}},
		&HyperCloning{WidthFactor: 2, Noise: true, NoiseSNRDB: 10, Common: Common{Seed: 7}},
	}
}

// Plan implements Operator.
func (h *HyperCloning) Plan(g *graph.Graph) (*transform.Plan, error) {
	if err := h.check(g); err != nil {
		return nil, err
	}
	n, m := h.WidthFactor, h.FFNFactor
	if n < 1 {
		return nil, fmt.Errorf("hypercloning: --width-factor %d: want a whole number ≥ 1, the multiplier of the hidden width and heads (2 doubles them)", n)
	}
	if m == 0 {
		m = n
	} else if m < 1 {
		return nil, fmt.Errorf("hypercloning: --ffn-factor %d: want a whole number ≥ 1, the multiplier of the FFN width (default: --width-factor)", m)
	}
	d := g.Dims
	if x := float64(n) * float64(d.Hidden); checkSize("", x) != nil {
		return nil, checkSize(fmt.Sprintf("--width-factor %d: the hidden width %d×%d = %s", n, n, d.Hidden, size(x)), x)
	}
	if x := float64(m) * float64(d.FFN); checkSize("", x) != nil {
		return nil, checkSize(fmt.Sprintf("--ffn-factor %d: the FFN width %d×%d = %s", m, m, d.FFN, size(x)), x)
	}
	if h.Noise && (math.IsNaN(h.NoiseSNRDB) || math.IsInf(h.NoiseSNRDB, 0)) {
		return nil, fmt.Errorf("hypercloning: --noise-snr-db %v is not a finite number", h.NoiseSNRDB)
	}
	// Multi-query attention (one key/value head shared by several query
	// heads) keeps its single key/value head; one query head with one
	// key/value head is plain multi-head attention and grows like it (GPT-2
	// and BERT cannot hold fewer key/value heads than query heads).
	mqa := d.KVHeads == 1 && d.Heads > 1
	kvUnits := transform.Circular(d.KVHeads, n*d.KVHeads)
	if mqa {
		kvUnits = transform.Identity(1)
	}
	qUnits, err := transform.HeadMaps(d.Heads, d.KVHeads, n*d.Heads, kvUnits.Dst(), kvUnits)
	if err != nil {
		return nil, fmt.Errorf("hypercloning: %w", err)
	}
	dims := d
	dims.Hidden, dims.Heads, dims.KVHeads, dims.FFN = n*d.Hidden, n*d.Heads, kvUnits.Dst(), m*d.FFN
	p := &transform.Plan{
		Operator: h.Name(), Class: claim.Exact, Dims: dims,
		Maps: map[graph.Axis]*transform.Map{
			graph.Residual: transform.TileResidue(d.Hidden, n*d.Hidden, transform.FillZero, transform.FillZero),
			graph.QHeads:   transform.Block(qUnits, d.HeadDim),
			graph.KVHeads:  transform.Block(kvUnits, d.HeadDim),
			graph.FFN:      transform.Circular(d.FFN, m*d.FFN),
		},
		Hidden:     claim.HiddenMap{Kind: "tile", Src: d.Hidden, Dst: n * d.Hidden},
		HiddenText: fmt.Sprintf("h' = tile_%d(h) (every hidden state is %d copies of the source's)", n, n),
		Params:     map[string]any{"method": h.Name(), "width_factor": n, "ffn_factor": m},
	}
	if h.Noise {
		p.Values.Perturb = transform.Perturb{Kind: transform.Noise, Rel: math.Pow(10, -h.NoiseSNRDB/20), SNRDB: h.NoiseSNRDB}
		p.Params["noise_snr_db"] = h.NoiseSNRDB
		if n < 2 && m < 2 {
			p.Notes = append(p.Notes, "noise needs at least two copies of an input; with factors 1 nothing is added")
		}
	}
	if mqa && n > 1 {
		p.Notes = append(p.Notes, "multi-query attention: the single key/value head is kept (its input columns are still divided)")
	}
	h.record(p)
	return p, nil
}
