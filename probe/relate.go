package probe

import (
	"fmt"
	"math"
	"slices"
)

// RelatedCosine is the median cosine, over the embedding rows of the shared
// vocabulary, between map(h_src) and h_dst (hidden state 0) below which two
// models are reported as unrelated. A grown model's rows are its source's
// under the hidden map (cosine 1 up to rounding, whatever the operator does
// to the layers); two independently initialised or trained models' rows are
// close to orthogonal (median cosine near 0, as for random vectors).
const RelatedCosine = 0.5

// Relation says whether the two models' embeddings correspond under a hidden
// map: the median cosine between map(h_src) and h_dst of hidden state 0 over
// every token id of the shared vocabulary.
type Relation struct {
	// Map is the hidden map tried: the claimed one, or the best of tile and
	// pad (zero or mean fill) when none is claimed. Empty when no map fits.
	Map string `json:"map,omitempty"`
	// Claimed is true when Map is the claim's (or the identity assumed for
	// two models of the same hidden size).
	Claimed bool `json:"claimed"`
	// Rows is the number of embedding rows compared.
	Rows int `json:"rows"`
	// MedianCosine is the median over the rows of cos(map(h_src), h_dst).
	MedianCosine float64 `json:"median_cosine"`
	// Related is MedianCosine ≥ RelatedCosine.
	Related bool `json:"related"`
	// Why says how the models were found unrelated, or why nothing could be
	// compared.
	Why string `json:"why,omitempty"`
}

// relator accumulates the row cosines of every candidate map.
type relator struct {
	maps    []HiddenMap
	claimed bool
	cos     [][]float64 // per map, per row
	why     string      // set when no map fits
}

// newRelator picks the maps to try: the claim's when known, else every tile
// and pad map from the source's width to the result's.
func newRelator(c *checker) *relator {
	r := &relator{}
	if c.known {
		r.maps, r.claimed = []HiddenMap{c.hm}, true
	} else if s, d := c.src.Hidden, c.dst.Hidden; s > 0 && s <= d {
		for _, kind := range []string{"tile", "pad"} {
			for _, fill := range []string{"zero", "mean"} {
				m := HiddenMap{Kind: kind, Src: s, Dst: d, Fill: fill}
				if (kind == "tile" && d%s == 0) || s == d {
					m.Fill = "" // nothing to fill: zero and mean are the same map
				}
				if !slices.Contains(r.maps, m) {
					r.maps = append(r.maps, m)
				}
			}
		}
	} else {
		r.why = fmt.Sprintf("no hidden-state map leads from the source's %d coordinates to the result's %d "+
			"(the result is narrower)", s, d)
	}
	r.cos = make([][]float64, len(r.maps))
	return r
}

// active reports whether there is a map to try.
func (r *relator) active() bool { return len(r.maps) > 0 }

// result returns the relation under the best map (nil when nothing was
// compared and no reason is known).
func (r *relator) result() *Relation {
	if !r.active() {
		if r.why == "" {
			return nil
		}
		return &Relation{Why: r.why}
	}
	best := -1
	med := math.Inf(-1)
	for k := range r.maps {
		if len(r.cos[k]) == 0 {
			continue
		}
		if m := median(r.cos[k]); m > med || best < 0 {
			best, med = k, m
		}
	}
	if best < 0 {
		return nil
	}
	rel := &Relation{Map: r.maps[best].String(), Claimed: r.claimed, Rows: len(r.cos[best]), MedianCosine: med,
		Related: med >= RelatedCosine}
	if !rel.Related {
		under := "under the claimed map " + rel.Map
		if !r.claimed {
			under = fmt.Sprintf("under any tile or pad map (best: %s)", rel.Map)
		}
		rel.Why = fmt.Sprintf("their embeddings do not correspond %s: median cosine %.3g < %g over %d rows of the shared vocabulary",
			under, med, RelatedCosine, rel.Rows)
	}
	return rel
}

// cosine returns cos(a, b): 1 when both are zero, 0 when one is (or when a
// value is not finite).
func cosine(a, b []float64) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	switch {
	case aa == 0 && bb == 0:
		return 1
	case aa == 0 || bb == 0:
		return 0
	}
	c := ab / math.Sqrt(aa*bb)
	if math.IsNaN(c) {
		return 0
	}
	return c
}

// median returns the median of x (x is reordered).
func median(x []float64) float64 {
	slices.Sort(x)
	n := len(x)
	if n%2 == 1 {
		return x[n/2]
	}
	return (x[n/2-1] + x[n/2]) / 2
}
