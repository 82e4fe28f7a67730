package checkpoint

import (
	"fmt"
	"io"
	"slices"
)

// CopyEntry writes t unchanged (a byte copy).
func CopyEntry(t *Tensor) Entry {
	return Entry{Name: t.Name, DType: t.DType, Shape: slices.Clone(t.Shape), Write: func(w io.Writer) error {
		_, err := t.WriteTo(w)
		return err
	}}
}

// ConvertEntry writes t under name converted to dtype dt (a byte copy when dt == t.DType).
//
// Float dtypes convert to each other with round-to-nearest-even (NaN and Inf kept,
// F64 rounded once). Other dtypes only copy: asking to convert them makes Write
// fail. The data is streamed in chunks of 256 Ki elements, so the memory used does
// not grow with the tensor.
func ConvertEntry(t *Tensor, name string, dt DType) Entry {
	if dt == t.DType {
		e := CopyEntry(t)
		e.Name = name
		return e
	}
	e := Entry{Name: name, DType: dt, Shape: slices.Clone(t.Shape)}
	e.Write = func(w io.Writer) error {
		if !t.DType.IsFloat() || !dt.IsFloat() {
			return t.errorf("cannot convert dtype %s to %s: only float dtypes convert", t.DType, dt)
		}
		if t.DType == F64 || dt == F64 {
			return convertTo[float64](w, t, dt)
		}
		return convertTo[float32](w, t, dt)
	}
	return e
}

// convertTo streams t to w converted to dt, through values of type T, in chunks
// of 256 Ki elements.
func convertTo[T float32 | float64](w io.Writer, t *Tensor, dt DType) error {
	n := t.NumElements()
	ss, ds := t.DType.Size(), dt.Size()
	c := min(n, decodeChunk)
	src := make([]byte, c*ss)
	dst := make([]byte, c*ds)
	v := make([]T, c)
	for i := 0; i < n; i += decodeChunk {
		k := min(decodeChunk, n-i)
		if err := t.readAt(src[:k*ss], int64(i*ss)); err != nil {
			return err
		}
		err := decodeFloats(v[:k], src[:k*ss], t.DType)
		if err == nil {
			err = encodeFloats(dst[:k*ds], v[:k], dt)
		}
		if err != nil {
			return t.errorf("%v", err)
		}
		if _, err := w.Write(dst[:k*ds]); err != nil {
			return err
		}
	}
	return nil
}

// numElements returns Π shape, or an error for negative dimensions or overflow.
func numElements(name string, shape []int) (int, error) {
	n, ok := byteLength(U8, shape)
	if !ok {
		return 0, fmt.Errorf("checkpoint: tensor %q: invalid shape %v", name, shape)
	}
	return int(n), nil
}

// Float32Entry writes the float32 values produced by data, encoded as dt.
// data is called when the entry is written; it must return Π shape values.
func Float32Entry(name string, dt DType, shape []int, data func() ([]float32, error)) Entry {
	return floatEntry(name, dt, shape, data)
}

// Float64Entry writes the float64 values produced by data, encoded as dt.
// data is called when the entry is written; it must return Π shape values.
func Float64Entry(name string, dt DType, shape []int, data func() ([]float64, error)) Entry {
	return floatEntry(name, dt, shape, data)
}

// floatEntry is Float32Entry and Float64Entry: the values are encoded in
// chunks of 256 Ki elements.
func floatEntry[T float32 | float64](name string, dt DType, shape []int, data func() ([]T, error)) Entry {
	return Entry{Name: name, DType: dt, Shape: slices.Clone(shape), Write: func(w io.Writer) error {
		n, err := numElements(name, shape)
		if err != nil {
			return err
		}
		v, err := data()
		if err != nil {
			return err
		}
		if len(v) != n {
			return fmt.Errorf("checkpoint: tensor %q: %d values for shape %v (%d elements)", name, len(v), shape, n)
		}
		buf := make([]byte, min(n, decodeChunk)*dt.Size())
		for i := 0; i < n; i += decodeChunk {
			k := min(decodeChunk, n-i)
			b := buf[:k*dt.Size()]
			if err := encodeFloats(b, v[i:i+k], dt); err != nil {
				return fmt.Errorf("checkpoint: tensor %q: %v", name, err)
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	}}
}

// BytesEntry writes raw little-endian data that is already in memory.
func BytesEntry(name string, dt DType, shape []int, data []byte) Entry {
	return Entry{Name: name, DType: dt, Shape: slices.Clone(shape), Write: func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}}
}

// ByteSize returns the number of bytes the entry writes (Π Shape × DType.Size()),
// or an error for an unknown dtype, a negative dimension or an overflow.
func (e Entry) ByteSize() (int64, error) {
	if e.DType.Size() == 0 {
		return 0, fmt.Errorf("checkpoint: tensor %q: unknown dtype %q", e.Name, e.DType)
	}
	n, ok := byteLength(e.DType, e.Shape)
	if !ok {
		return 0, fmt.Errorf("checkpoint: tensor %q: shape %v of dtype %s is negative or overflows", e.Name, e.Shape, e.DType)
	}
	return int64(n), nil
}
