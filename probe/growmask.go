package probe

import (
	"fmt"
	"math"

	"github.com/grow-ml/grow/claim"
)

// GrowthMasks are the masks of masked structural growth (MSG; Yao et al.
// 2024, "Masked structural growth for 2x faster language model
// pre-training", arXiv 2305.02869): 1 on the coordinates the source had, the
// mask value c ∈ [0, 1] on the grown ones. With them the forward pass is
// MSG's masked forward:
//
//   - Hidden [D]: the embedding output and every sublayer's output are
//     multiplied by it before they reach the residual stream, and every norm
//     over the stream takes its statistics with these weights (mean and
//     variance, or mean square, over Σ Hidden) and multiplies its output by it;
//   - Q [H·d] and KV [K·d]: the query, key and value projections are
//     multiplied by them (whole heads);
//   - FFN [I]: the MLP units are multiplied by it: the pre-activation of an
//     ungated MLP, the product act(gate)·up of a gated one;
//   - Layers [L]: block l's output is Layers[l]·block(h) + (1 − Layers[l])·h.
//
// At c = 0 the grown model computes exactly what the source computes,
// whatever its new weights hold; at c = 1 it is its plain forward pass. A nil
// field masks nothing.
type GrowthMasks struct {
	Hidden, Q, KV, FFN, Layers []float64
	// Value is the mask value of the new coordinates (what a claim made at
	// 0 depends on).
	Value float64
}

// SetGrowthMasks makes m's forward pass the masked one of masks (nil: the
// plain forward pass). The masks must fit the model's sizes.
func (m *Model) SetGrowthMasks(masks *GrowthMasks) error {
	if masks == nil {
		m.growth = nil
		return nil
	}
	a := &m.arch
	for _, c := range []struct {
		name string
		v    []float64
		n    int
	}{{"hidden", masks.Hidden, a.D}, {"q", masks.Q, a.H * a.d}, {"kv", masks.KV, a.K * a.d},
		{"ffn", masks.FFN, a.I}, {"layers", masks.Layers, a.L}} {
		if c.v != nil && len(c.v) != c.n {
			return fmt.Errorf("probe: the %s growth mask has %d entries, the model %d", c.name, len(c.v), c.n)
		}
		for i, x := range c.v {
			if !(x >= 0 && x <= 1) {
				return fmt.Errorf("probe: the %s growth mask's entry %d is %v (want a value in [0, 1])", c.name, i, x)
			}
		}
	}
	if masks.Hidden != nil {
		s := 0.0
		for _, x := range masks.Hidden {
			s += x
		}
		if s == 0 {
			return fmt.Errorf("probe: the hidden growth mask is 0 everywhere")
		}
	}
	mk := *masks
	m.growth = &mk
	return nil
}

// maskRows multiplies every row of x (width W, n rows) by mask (nil: none).
func maskRows[T float](x []T, mask []float64, n, W int) {
	if mask == nil {
		return
	}
	for r := 0; r < n; r++ {
		row := x[r*W : (r+1)*W]
		for i, c := range mask {
			if c != 1 {
				row[i] = T(float64(row[i]) * c)
			}
		}
	}
}

// maskQKV multiplies the q and the k and v parts of every fused row of qkv by
// their masks.
func maskQKV[T float](qkv []T, q, kv []float64, n, H, K, d int) {
	W := (H + 2*K) * d
	for r := 0; r < n; r++ {
		row := qkv[r*W : (r+1)*W]
		maskRows(row[:H*d], q, 1, H*d)
		maskRows(row[H*d:(H+K)*d], kv, 1, K*d)
		maskRows(row[(H+K)*d:], kv, 1, K*d)
	}
}

// maskedNormRows is normRows with statistics weighted by mask and the output
// multiplied by it; a nil mask is normRows.
func maskedNormRows[T float](nw norm[T], rms bool, eps float64, mask []float64, x []T, n, D int, y []T) {
	if mask == nil {
		normRows(nw, rms, eps, x, n, D, y)
		return
	}
	var total float64
	for _, c := range mask {
		total += c
	}
	for r := 0; r < n; r++ {
		xr, yr := x[r*D:(r+1)*D], y[r*D:(r+1)*D]
		if rms {
			var ss float64
			for i, v := range xr {
				ss += mask[i] * float64(v) * float64(v)
			}
			inv := T(1 / math.Sqrt(ss/total+eps))
			for i, v := range xr {
				yr[i] = T(float64(nw.w[i]*(v*inv)) * mask[i])
			}
			continue
		}
		var sum float64
		for i, v := range xr {
			sum += mask[i] * float64(v)
		}
		mu := sum / total
		var ss float64
		for i, v := range xr {
			dv := float64(v) - mu
			ss += mask[i] * dv * dv
		}
		m, inv := T(mu), T(1/math.Sqrt(ss/total+eps))
		for i, v := range xr {
			yr[i] = T(float64((v-m)*inv*nw.w[i]+nw.b[i]) * mask[i])
		}
	}
}

// blend makes x = c·x + (1 − c)·prev, the output of a block whose growth
// mask is c.
func blend[T float](x, prev []T, c float64) {
	if c == 1 {
		return
	}
	for i := range x {
		x[i] = T(c*float64(x[i]) + (1-c)*float64(prev[i]))
	}
}

// GrowthMasksOf returns the masks of an MSG state.
func GrowthMasksOf(g *claim.Growth) *GrowthMasks {
	h, q, kv, ffn, layers := g.Masks()
	return &GrowthMasks{Hidden: h, Q: q, KV: kv, FFN: ffn, Layers: layers, Value: g.MaskValue}
}
