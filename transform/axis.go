package transform

import "fmt"

// Fill says how an index of a grown axis with no source index is filled.
type Fill int

const (
	// FillZero writes 0.
	FillZero Fill = iota
	// FillMean writes the mean over the source indices (LEMON average expansion).
	FillMean
	// FillFree writes a free value: small random values when the operator has a
	// random scale, 0 otherwise. Used only where the value is multiplied by an
	// exact 0 in the forward pass (or where the unit's other side is 0).
	FillFree
)

func (f Fill) String() string {
	switch f {
	case FillMean:
		return "mean"
	case FillFree:
		return "free"
	}
	return "zero"
}

// Map is the index map of one axis: every index of the result's axis comes
// from one index of the source's, or is new. Copies of a source index that an
// input axis holds divide its weight among them (the fan-in split); new
// indices are filled by the map's Fill for outputs and inputs.
type Map struct {
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
	produce Fill
	// consume is the fill of new indices where the axis is an input (columns).
	consume Fill
	// newRows, when set, computes the new indices' rows instead of produce
	// (WithNewRows).
	newRows RowFunc
}

// NewMap makes the map of an axis of src indices whose result index i comes
// from source index idx[i] (-1: a new index, filled with produce where the
// axis is an output and consume where it is an input). Every idx[i] must be
// in [-1, src); Select checks that.
func NewMap(src int, idx []int, produce, consume Fill) *Map {
	m := &Map{src: src, dst: len(idx), idx: idx, ord: make([]int, len(idx)),
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

// Identity is the unchanged axis.
func Identity(n int) *Map {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return NewMap(n, idx, FillZero, FillZero)
}

// TileResidue tiles the source q = dst/src times and marks the dst mod src
// remaining indices new (LEMON/HyperCloning hidden axis).
func TileResidue(src, dst int, produce, consume Fill) *Map {
	q := dst / src
	idx := make([]int, dst)
	for i := range idx {
		if i < q*src {
			idx[i] = i % src
		} else {
			idx[i] = -1
		}
	}
	return NewMap(src, idx, produce, consume)
}

// Circular is i' -> i' mod src for every grown index (LEMON heads and FFN units).
func Circular(src, dst int) *Map {
	idx := make([]int, dst)
	for i := range idx {
		idx[i] = i % src
	}
	return NewMap(src, idx, FillZero, FillZero)
}

// Pad keeps the source indices first and marks the rest new (zero-padding).
func Pad(src, dst int, produce, consume Fill) *Map {
	idx := make([]int, dst)
	for i := range idx {
		if i < src {
			idx[i] = i
		} else {
			idx[i] = -1
		}
	}
	return NewMap(src, idx, produce, consume)
}

// Block expands a map over units (heads) to a map over their d coordinates,
// unit-major: grown index h'·d+j comes from source index src(h')·d+j.
func Block(units *Map, d int) *Map {
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
	return NewMap(units.src*d, idx, units.produce, units.consume)
}

// HeadMaps builds the query-head and key/value-head maps for H -> H' query heads
// and K -> K' key/value heads. Grown kv head k' copies source kv head kv.idx[k'];
// grown query head i' (which attends with kv head i'/g') copies source head
// g·kv.idx[i'/g'] + (i' mod g') mod g, so that its source head uses the source kv
// head that its own kv head copies. Every source head must get a copy.
func HeadMaps(h, k, h2, k2 int, kvUnits *Map) (*Map, error) {
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
		if a >= g && kvUnits.produce == FillFree {
			// zero-padding: query heads beyond the source group size are new.
			idx[i] = -1
			continue
		}
		idx[i] = g*kv + a%g
	}
	q := NewMap(h, idx, kvUnits.produce, kvUnits.consume)
	for j, c := range q.count {
		if c == 0 {
			return nil, fmt.Errorf("heads %d -> %d with key/value heads %d -> %d: source query head %d gets no copy", h, h2, k, k2, j)
		}
	}
	return q, nil
}

// Select is the map that keeps the source indices idx, in that order (weight
// selection, a permutation, a shrink): each must be in [0, src) and appear
// once.
func Select(src int, idx []int) (*Map, error) {
	seen := make([]bool, src)
	for i, j := range idx {
		if j < 0 || j >= src {
			return nil, fmt.Errorf("transform: selected index %d (at %d) outside [0, %d)", j, i, src)
		}
		if seen[j] {
			return nil, fmt.Errorf("transform: index %d selected twice", j)
		}
		seen[j] = true
	}
	return NewMap(src, append([]int(nil), idx...), FillZero, FillZero), nil
}

// Src is the length of the source axis.
func (m *Map) Src() int { return m.src }

// Dst is the length of the result's axis.
func (m *Map) Dst() int { return m.dst }

// Source returns the source index of result index i, or -1 for a new one.
func (m *Map) Source(i int) int { return m.idx[i] }

// MaxCopies is the largest number of copies of one source index.
func (m *Map) MaxCopies() int {
	n := 0
	for _, c := range m.count {
		n = max(n, c)
	}
	return n
}

// isIdentity reports whether m keeps every index where it is.
func (m *Map) isIdentity() bool {
	if m.src != m.dst {
		return false
	}
	for i, j := range m.idx {
		if i != j {
			return false
		}
	}
	return true
}
