package grow

import "fmt"

// fillKind says how an index of a grown axis with no source index is filled.
type fillKind int

const (
	// fillZero writes 0.
	fillZero fillKind = iota
	// fillMean writes the mean over the source indices (LEMON average expansion).
	fillMean
	// fillFree writes a free value: small random values when the operator has a
	// random scale, 0 otherwise. Used only where the value is multiplied by an
	// exact 0 in the forward pass (or where the unit's other side is 0).
	fillFree
)

func (f fillKind) String() string {
	switch f {
	case fillMean:
		return "mean"
	case fillFree:
		return "free"
	}
	return "zero"
}

// axisMap maps every index of a grown axis to an index of the source axis.
type axisMap struct {
	src, dst int
	// idx[i'] is the source index of grown index i', or -1 for a new index.
	idx []int
	// ord[i'] is which copy of idx[i'] grown index i' is (0 for the first).
	ord []int
	// count[j] is the number of copies of source index j.
	count []int
	// copies[j] lists the grown indices that copy source index j, in order.
	copies [][]int
	// produce is the fill of new indices where the axis is an output (rows of a
	// matrix, entries of a bias or an embedding column).
	produce fillKind
	// consume is the fill of new indices where the axis is an input (columns).
	consume fillKind
}

// newAxisMap completes an axis map from its index table.
func newAxisMap(src int, idx []int, produce, consume fillKind) *axisMap {
	m := &axisMap{src: src, dst: len(idx), idx: idx, ord: make([]int, len(idx)),
		count: make([]int, src), copies: make([][]int, src), produce: produce, consume: consume}
	for i, j := range idx {
		if j < 0 {
			continue
		}
		m.ord[i] = m.count[j]
		m.count[j]++
		m.copies[j] = append(m.copies[j], i)
	}
	return m
}

// identityMap is the unchanged axis.
func identityMap(n int) *axisMap {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return newAxisMap(n, idx, fillZero, fillZero)
}

// tileResidueMap tiles the source q = dst/src times and marks the dst mod src
// remaining indices new (LEMON/HyperCloning hidden axis).
func tileResidueMap(src, dst int, produce, consume fillKind) *axisMap {
	q := dst / src
	idx := make([]int, dst)
	for i := range idx {
		if i < q*src {
			idx[i] = i % src
		} else {
			idx[i] = -1
		}
	}
	return newAxisMap(src, idx, produce, consume)
}

// circularMap is i' -> i' mod src for every grown index (LEMON heads and FFN units).
func circularMap(src, dst int) *axisMap {
	idx := make([]int, dst)
	for i := range idx {
		idx[i] = i % src
	}
	return newAxisMap(src, idx, fillZero, fillZero)
}

// padMap keeps the source indices first and marks the rest new (zero-padding).
func padMap(src, dst int, produce, consume fillKind) *axisMap {
	idx := make([]int, dst)
	for i := range idx {
		if i < src {
			idx[i] = i
		} else {
			idx[i] = -1
		}
	}
	return newAxisMap(src, idx, produce, consume)
}

// blockMap expands a map over units (heads) to a map over their d coordinates,
// unit-major: grown index h'·d+j comes from source index src(h')·d+j.
func blockMap(units *axisMap, d int) *axisMap {
	idx := make([]int, units.dst*d)
	for h, s := range units.idx {
		for j := 0; j < d; j++ {
			if s < 0 {
				idx[h*d+j] = -1
			} else {
				idx[h*d+j] = s*d + j
			}
		}
	}
	return newAxisMap(units.src*d, idx, units.produce, units.consume)
}

// headMaps builds the query-head and key/value-head maps for H -> H' query heads
// and K -> K' key/value heads. Grown kv head k' copies source kv head kv.idx[k'];
// grown query head i' (which attends with kv head i'/g') copies source head
// g·kv.idx[i'/g'] + (i' mod g') mod g, so that its source head uses the source kv
// head that its own kv head copies. Every source head must get a copy.
func headMaps(h, k, h2, k2 int, kvUnits *axisMap) (*axisMap, error) {
	if k == 0 || k2 == 0 || h%k != 0 || h2%k2 != 0 {
		return nil, fmt.Errorf("heads %d -> %d with key/value heads %d -> %d: the query heads must be a multiple of the key/value heads", h, h2, k, k2)
	}
	g, g2 := h/k, h2/k2
	if g2 < g {
		return nil, fmt.Errorf("heads %d -> %d with key/value heads %d -> %d: %d query heads per key/value head would become %d, so some source heads would have no copy; keep at least %d per group", h, h2, k, k2, g, g2, g)
	}
	idx := make([]int, h2)
	for i := range idx {
		kv := kvUnits.idx[i/g2]
		if kv < 0 {
			idx[i] = -1
			continue
		}
		a := i % g2
		if a >= g && kvUnits.produce == fillFree {
			// zero-padding: query heads beyond the source group size are new.
			idx[i] = -1
			continue
		}
		idx[i] = g*kv + a%g
	}
	q := newAxisMap(h, idx, kvUnits.produce, kvUnits.consume)
	for j, c := range q.count {
		if c == 0 {
			return nil, fmt.Errorf("heads %d -> %d with key/value heads %d -> %d: source query head %d gets no copy", h, h2, k, k2, j)
		}
	}
	return q, nil
}
