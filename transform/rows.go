package transform

import "fmt"

// RowSource is read access to the rows of a source tensor in float64: a
// matrix [Rows, Cols], or a vector as Rows entries of one column.
type RowSource interface {
	Rows() int
	Cols() int
	// Row writes row i into dst (len Cols).
	Row(i int, dst []float64)
}

// RowFunc computes the values of the new indices of an axis in one tensor
// whose rows (or entries, for a vector) are on that axis: role names the
// tensor ("embed", "head", "head.bias"), src is its source, and the result
// has one row of src.Cols() values per new index, in the order of the new
// indices. It is called each time the tensor is computed and must give the
// same values each time. Vocabulary extension (package tokens) initializes
// new tokens' rows with one.
type RowFunc func(role string, src RowSource) ([][]float64, error)

// WithNewRows returns a copy of m whose new indices are filled by f, in the
// tables and linear maps whose rows are on the axis and in the vectors over
// it (instead of m's produce fill); the other axes of those tensors must be
// unchanged.
func (m *Map) WithNewRows(f RowFunc) *Map {
	c := *m
	c.newRows = f
	return &c
}

// sliceRows is a RowSource over a row-major slice.
type sliceRows[T float] struct {
	w    []T
	n, c int
}

func (s sliceRows[T]) Rows() int { return s.n }
func (s sliceRows[T]) Cols() int { return s.c }
func (s sliceRows[T]) Row(i int, dst []float64) {
	for j, v := range s.w[i*s.c : (i+1)*s.c] {
		dst[j] = float64(v)
	}
}

// newRowsOf returns the rows m's row function gives the new indices of a
// tensor w [O, I] (nil when m has none or no new index); cols is the map of
// its other axis (nil for a vector), which must be unchanged.
func newRowsOf[T float](m *Map, role string, w []T, O, I int, cols *Map) ([][]float64, error) {
	if m.newRows == nil || !hasNew(m) {
		return nil, nil
	}
	if cols != nil && !cols.isIdentity() {
		return nil, fmt.Errorf("expand: %s: new rows from a row function need the columns unchanged", role)
	}
	rows, err := m.newRows(role, sliceRows[T]{w, O, I})
	if err != nil {
		return nil, fmt.Errorf("expand: %s: %w", role, err)
	}
	n := 0
	for _, j := range m.idx {
		if j < 0 {
			n++
		}
	}
	if len(rows) != n {
		return nil, fmt.Errorf("expand: %s: %d new rows computed for %d new indices", role, len(rows), n)
	}
	for i, r := range rows {
		if len(r) != I {
			return nil, fmt.Errorf("expand: %s: new row %d has %d values, want %d", role, i, len(r), I)
		}
	}
	return rows, nil
}
