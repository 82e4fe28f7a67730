package graph

import (
	"fmt"
	"slices"

	"github.com/grow-ml/grow/checkpoint"
)

// Dense is an in-memory tensor (operators' results, tests).
type Dense struct {
	shape []int
	dt    checkpoint.DType
	f32   []float32
	f64   []float64
}

// NewDense32 returns an in-memory float32 tensor of the given shape; dt is the
// dtype reported (the data is float32 whatever it says).
func NewDense32(data []float32, dt checkpoint.DType, shape ...int) *Dense {
	return &Dense{shape: shape, dt: dt, f32: data}
}

// NewDense64 returns an in-memory float64 tensor of the given shape.
func NewDense64(data []float64, dt checkpoint.DType, shape ...int) *Dense {
	return &Dense{shape: shape, dt: dt, f64: data}
}

// Shape implements Tensor.
func (d *Dense) Shape() []int { return d.shape }

// DType implements Tensor.
func (d *Dense) DType() checkpoint.DType { return d.dt }

// Float32 implements Tensor.
func (d *Dense) Float32() ([]float32, error) {
	if d.f32 != nil {
		return d.f32, nil
	}
	out := make([]float32, len(d.f64))
	for i, v := range d.f64 {
		out[i] = float32(v)
	}
	return out, nil
}

// Float64 implements Tensor.
func (d *Dense) Float64() ([]float64, error) {
	if d.f64 != nil {
		return d.f64, nil
	}
	out := make([]float64, len(d.f32))
	for i, v := range d.f32 {
		out[i] = float64(v)
	}
	return out, nil
}

// PrefersFloat64 implements Float64Preferrer: a Dense made by NewDense64 holds
// float64 data, which Entries encodes from float64 (rounding once).
func (d *Dense) PrefersFloat64() bool { return d.f64 != nil }

// Float64Preferrer is implemented by tensors whose data is natively float64
// (computed in float64). Entries then encodes them from Float64, so that a
// narrower output dtype is reached by one rounding, not two. Tensors with DType
// F64 are always encoded from Float64.
type Float64Preferrer interface {
	PrefersFloat64() bool
}

// View is a lazy graph tensor over a checkpoint tensor: the stored tensor,
// optionally transposed (GPT-2 Conv1D matrices are stored [in, out] and viewed
// [out, in]) and optionally restricted to a range of rows (GPT-2's fused c_attn
// is viewed as its q, k and v parts). Nothing is read until Float32 or Float64
// is called; each call reads and decodes the source again.
type View struct {
	// Src is the checkpoint tensor.
	Src *checkpoint.Tensor
	// Transposed views a stored 2-D [in, out] matrix as [out, in].
	Transposed bool
	// Lo and Hi select rows [Lo, Hi) of the (transposed) view, or elements of a
	// vector; Hi == 0 means all rows.
	Lo, Hi int
	// Stride, when positive, repeats the selection every Stride rows: the
	// view's rows are [Lo+k·Stride, Hi+k·Stride) for k = 0 … rows/Stride − 1
	// (one part of GPT-NeoX's query_key_value, interleaved per head). Only
	// for an untransposed view with 0 ≤ Lo < Hi ≤ Stride.
	Stride int
}

// NewView returns the view of t as stored.
func NewView(t *checkpoint.Tensor) *View { return &View{Src: t} }

// Whole reports whether the view is its source exactly as stored (no transpose,
// every row), so that writing it can copy the source's bytes.
func (v *View) Whole() bool { return !v.Transposed && v.Hi == 0 && v.Stride == 0 }

// Shape implements Tensor.
func (v *View) Shape() []int {
	s := slices.Clone(v.Src.Shape)
	if v.Transposed && len(s) == 2 {
		s[0], s[1] = s[1], s[0]
	}
	if v.Hi > 0 && len(s) > 0 {
		if v.Stride > 0 {
			s[0] = (v.Hi - v.Lo) * (s[0] / v.Stride)
		} else {
			s[0] = v.Hi - v.Lo
		}
	}
	return s
}

// DType implements Tensor: the source's dtype.
func (v *View) DType() checkpoint.DType { return v.Src.DType }

// Float32 implements Tensor.
func (v *View) Float32() ([]float32, error) { return viewData(v, v.Src.Float32Range) }

// Float64 implements Tensor.
func (v *View) Float64() ([]float64, error) { return viewData(v, v.Src.Float64Range) }

// String describes the view, e.g. `h.0.attn.c_attn.weight[T][0:768]`.
func (v *View) String() string {
	s := v.Src.Name
	if v.Transposed {
		s += "ᵀ"
	}
	switch {
	case v.Stride > 0:
		s += fmt.Sprintf("[k·%d+%d:k·%d+%d]", v.Stride, v.Lo, v.Stride, v.Hi)
	case v.Hi > 0:
		s += fmt.Sprintf("[%d:%d]", v.Lo, v.Hi)
	}
	return s
}

// viewData decodes the source with decode (elements [lo, hi) of the source),
// then transposes and slices it. A range of rows of an untransposed view
// reads only those rows (the parts of a tensor fused by rows).
func viewData[T float32 | float64](v *View, decode func(lo, hi int) ([]T, error)) ([]T, error) {
	shape := v.Src.Shape
	if v.Transposed && len(shape) != 2 {
		return nil, fmt.Errorf("graph: %s: tensor %q: cannot transpose a tensor of shape %v", v.Src.File, v.Src.Name, shape)
	}
	rows, cols := 1, 1
	if len(shape) > 0 {
		rows = shape[0]
		cols = checkpointNumel(shape[1:])
	}
	if v.Transposed {
		rows, cols = shape[1], shape[0]
	}
	if v.Stride > 0 {
		return stridedRows(v, decode, rows, cols)
	}
	lo, hi := 0, rows
	if v.Hi > 0 {
		lo, hi = v.Lo, v.Hi
	}
	if lo < 0 || hi > rows || lo > hi {
		return nil, fmt.Errorf("graph: %s: tensor %q: rows [%d, %d) out of range [0, %d)", v.Src.File, v.Src.Name, lo, hi, rows)
	}
	if !v.Transposed {
		data, err := decode(lo*cols, hi*cols)
		if err != nil {
			return nil, err
		}
		if len(data) != (hi-lo)*cols {
			return nil, fmt.Errorf("graph: %s: tensor %q: decoded %d values of rows [%d, %d), want %d", v.Src.File, v.Src.Name, len(data), lo, hi, (hi-lo)*cols)
		}
		return data, nil
	}
	data, err := decode(0, rows*cols)
	if err != nil {
		return nil, err
	}
	if len(data) != rows*cols {
		return nil, fmt.Errorf("graph: %s: tensor %q: decoded %d values, shape %v has %d", v.Src.File, v.Src.Name, len(data), shape, rows*cols)
	}
	// Stored [cols, rows] (in, out); the view row r is stored column lo+r.
	// Blocked so that both sides stay in cache for large matrices.
	out := make([]T, (hi-lo)*cols)
	const b = 64
	for r0 := lo; r0 < hi; r0 += b {
		r1 := min(r0+b, hi)
		for c0 := 0; c0 < cols; c0 += b {
			c1 := min(c0+b, cols)
			for r := r0; r < r1; r++ {
				dst := out[(r-lo)*cols:]
				for c := c0; c < c1; c++ {
					dst[c] = data[c*rows+r]
				}
			}
		}
	}
	return out, nil
}

// stridedRows decodes the rows [Lo+k·Stride, Hi+k·Stride) of an
// untransposed view, block by block.
func stridedRows[T float32 | float64](v *View, decode func(lo, hi int) ([]T, error), rows, cols int) ([]T, error) {
	if v.Transposed || v.Lo < 0 || v.Lo >= v.Hi || v.Hi > v.Stride || rows%v.Stride != 0 {
		return nil, fmt.Errorf("graph: %s: tensor %q: rows [%d, %d) every %d do not fit %d rows", v.Src.File, v.Src.Name, v.Lo, v.Hi, v.Stride, rows)
	}
	w := (v.Hi - v.Lo) * cols
	out := make([]T, 0, w*(rows/v.Stride))
	for k := 0; k < rows/v.Stride; k++ {
		lo := (k*v.Stride + v.Lo) * cols
		data, err := decode(lo, lo+w)
		if err != nil {
			return nil, err
		}
		if len(data) != w {
			return nil, fmt.Errorf("graph: %s: tensor %q: decoded %d values of a block of %d", v.Src.File, v.Src.Name, len(data), w)
		}
		out = append(out, data...)
	}
	return out, nil
}

func checkpointNumel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// transpose returns the [cols, rows] transpose of the row-major [rows, cols] data.
func transpose[T float32 | float64](data []T, rows, cols int) []T {
	out := make([]T, len(data))
	const b = 64
	for r0 := 0; r0 < rows; r0 += b {
		r1 := min(r0+b, rows)
		for c0 := 0; c0 < cols; c0 += b {
			c1 := min(c0+b, cols)
			for r := r0; r < r1; r++ {
				for c := c0; c < c1; c++ {
					out[c*rows+r] = data[r*cols+c]
				}
			}
		}
	}
	return out
}
