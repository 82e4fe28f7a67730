package graph

import (
	"fmt"

	"github.com/grow-ml/grow/checkpoint"
)

// RowReader decodes a range of a tensor's rows (its first axis) into a
// buffer the caller owns, without decoding the other rows: how a streaming
// forward pass reads a matrix block by block, holding one block at a time.
type RowReader interface {
	// ReadRows32 decodes rows [lo, hi), row-major, into dst, whose length
	// is exactly their number of values.
	ReadRows32(dst []float32, lo, hi int) error
	// ReadRows64 is ReadRows32 in float64.
	ReadRows64(dst []float64, lo, hi int) error
}

// ReadRows decodes rows [lo, hi) of r into dst in dst's precision.
func ReadRows[T float32 | float64](r RowReader, dst []T, lo, hi int) error {
	switch d := any(dst).(type) {
	case []float32:
		return r.ReadRows32(d, lo, hi)
	case []float64:
		return r.ReadRows64(d, lo, hi)
	}
	return nil
}

// RowReaderOf returns t's RowReader when t reads a range of rows for the cost
// of those rows: a view of a checkpoint tensor as stored (whole, a range of
// its rows, or rows every Stride), an in-memory tensor, and these rounded to
// another dtype. A transposed view (a GPT-2 Conv1D matrix) would decode the
// whole stored tensor for every range; ok is false for it, and for tensors
// computed by operators.
func RowReaderOf(t Tensor) (r RowReader, ok bool) {
	switch t := t.(type) {
	case *View:
		return t, t != nil && !t.Transposed
	case *Dense:
		return t, t != nil
	case rounded:
		if _, ok := RowReaderOf(t.t); ok {
			return t, true
		}
	}
	return nil, false
}

// rowCols returns the number of rows of a shape and the values in each.
func rowCols(shape []int) (rows, cols int) {
	if len(shape) == 0 {
		return 1, 1
	}
	return shape[0], checkpointNumel(shape[1:])
}

// checkRows validates a row range and its buffer against a shape.
func checkRows(what string, shape []int, n, lo, hi int) (cols int, err error) {
	rows, cols := rowCols(shape)
	if lo < 0 || hi > rows || lo > hi {
		return 0, fmt.Errorf("graph: %s: rows [%d, %d) outside [0, %d)", what, lo, hi, rows)
	}
	if n != (hi-lo)*cols {
		return 0, fmt.Errorf("graph: %s: a buffer of %d values for rows [%d, %d) of %d values each", what, n, lo, hi, cols)
	}
	return cols, nil
}

// ReadRows32 implements RowReader (untransposed views; a transposed one
// decodes the whole tensor).
func (v *View) ReadRows32(dst []float32, lo, hi int) error {
	return viewRows(v, dst, lo, hi, v.Src.Float32Into, v.Float32)
}

// ReadRows64 implements RowReader.
func (v *View) ReadRows64(dst []float64, lo, hi int) error {
	return viewRows(v, dst, lo, hi, v.Src.Float64Into, v.Float64)
}

// viewRows decodes rows [lo, hi) of a view: for an untransposed one, the
// stored rows they are (in runs of consecutive stored rows); a transposed one
// is decoded whole.
func viewRows[T float32 | float64](v *View, dst []T, lo, hi int, into func([]T, int) error, whole func() ([]T, error)) error {
	cols, err := checkRows(v.String(), v.Shape(), len(dst), lo, hi)
	if err != nil {
		return err
	}
	if v.Transposed {
		all, err := whole()
		if err != nil {
			return err
		}
		copy(dst, all[lo*cols:hi*cols])
		return nil
	}
	// View row r is stored row k·Stride + Lo + r mod w (w = Hi − Lo) with
	// k = r div w; without a stride, stored row Lo + r.
	w, stride := hi, 0
	if v.Hi > 0 {
		w = v.Hi - v.Lo
	}
	if v.Stride > 0 {
		stride = v.Stride
	}
	for r := lo; r < hi; {
		k, j := r/w, r%w
		if stride == 0 {
			k, j = 0, r
		}
		n := min(hi-r, w-j)
		if stride == 0 {
			n = hi - r
		}
		stored := k*stride + v.Lo + j
		if err := into(dst[(r-lo)*cols:(r-lo+n)*cols], stored*cols); err != nil {
			return err
		}
		r += n
	}
	return nil
}

// ReadRows32 implements RowReader.
func (d *Dense) ReadRows32(dst []float32, lo, hi int) error { return denseRows(d, dst, lo, hi) }

// ReadRows64 implements RowReader.
func (d *Dense) ReadRows64(dst []float64, lo, hi int) error { return denseRows(d, dst, lo, hi) }

// denseRows copies rows [lo, hi) of d into dst, converting them when d holds
// the other precision.
func denseRows[T float32 | float64](d *Dense, dst []T, lo, hi int) error {
	cols, err := checkRows("dense tensor", d.shape, len(dst), lo, hi)
	if err != nil {
		return err
	}
	if d.f32 != nil {
		for i, x := range d.f32[lo*cols : hi*cols] {
			dst[i] = T(x)
		}
		return nil
	}
	for i, x := range d.f64[lo*cols : hi*cols] {
		dst[i] = T(x)
	}
	return nil
}

// ReadRows64 implements RowReader: the rows of the tensor it rounds, rounded.
func (r rounded) ReadRows64(dst []float64, lo, hi int) error {
	src, ok := RowReaderOf(r.t)
	if !ok {
		all, err := r.Float64()
		if err != nil {
			return err
		}
		_, cols := rowCols(r.Shape())
		copy(dst, all[lo*cols:hi*cols])
		return nil
	}
	if err := src.ReadRows64(dst, lo, hi); err != nil {
		return err
	}
	return roundInPlace(dst, r.dt)
}

// ReadRows32 implements RowReader.
func (r rounded) ReadRows32(dst []float32, lo, hi int) error {
	v := make([]float64, len(dst))
	if err := r.ReadRows64(v, lo, hi); err != nil {
		return err
	}
	for i, x := range v {
		dst[i] = float32(x)
	}
	return nil
}

// roundInPlace rounds v to dt's values (round to nearest even).
func roundInPlace(v []float64, dt checkpoint.DType) error {
	buf := make([]byte, len(v)*dt.Size())
	if err := checkpoint.EncodeFloat64(buf, v, dt); err != nil {
		return fmt.Errorf("graph: rounding to %s: %w", dt, err)
	}
	return checkpoint.DecodeFloat64(v, buf, dt)
}
