package checkpoint

import (
	"fmt"
	"io"
	"os"
)

// NumElements returns Π Shape (1 for a scalar).
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// ByteSize returns the length of the tensor's data in bytes.
func (t *Tensor) ByteSize() int64 { return t.size }

// errorf formats an error that names the tensor and its file.
func (t *Tensor) errorf(format string, a ...any) error {
	return fmt.Errorf("checkpoint: %s: tensor %q: %s", t.File, t.Name, fmt.Sprintf(format, a...))
}

// readAt reads len(p) bytes of the tensor's data starting at data offset off.
func (t *Tensor) readAt(p []byte, off int64) error {
	if t.r == nil {
		return t.errorf("no data source (tensor not read from a file)")
	}
	if off < 0 || off+int64(len(p)) > t.size {
		return t.errorf("read of [%d, %d) outside its %d bytes", off, off+int64(len(p)), t.size)
	}
	if err := readFullAt(t.r, p, t.offset+off); err != nil {
		return t.errorf("reading data: %v", err)
	}
	return nil
}

// Bytes reads the tensor's raw little-endian data.
func (t *Tensor) Bytes() ([]byte, error) {
	p := make([]byte, t.size)
	if err := t.readAt(p, 0); err != nil {
		return nil, err
	}
	return p, nil
}

// Float32 reads and decodes a float tensor to float32 (F64 is rounded to nearest).
// The data is read in chunks, so the only large allocation is the result.
func (t *Tensor) Float32() ([]float32, error) { return readFloats[float32](t, 0, t.NumElements()) }

// Float64 reads and decodes a float tensor to float64 (exact for every float dtype).
func (t *Tensor) Float64() ([]float64, error) { return readFloats[float64](t, 0, t.NumElements()) }

// Float32Range reads and decodes the elements [lo, hi) of a float tensor (in
// row-major order) to float32, reading only their bytes.
func (t *Tensor) Float32Range(lo, hi int) ([]float32, error) { return readFloats[float32](t, lo, hi) }

// Float64Range reads and decodes the elements [lo, hi) of a float tensor (in
// row-major order) to float64, reading only their bytes.
func (t *Tensor) Float64Range(lo, hi int) ([]float64, error) { return readFloats[float64](t, lo, hi) }

// Float32Into decodes the elements [lo, lo+len(dst)) of a float tensor (in
// row-major order) into dst, reading only their bytes: the decode of a block
// of rows into a buffer the caller reuses.
func (t *Tensor) Float32Into(dst []float32, lo int) error { return readFloatsInto(t, dst, lo) }

// Float64Into is Float32Into to float64 (exact for every float dtype).
func (t *Tensor) Float64Into(dst []float64, lo int) error { return readFloatsInto(t, dst, lo) }

// readFloats decodes the elements [lo, hi).
func readFloats[T float32 | float64](t *Tensor, lo, hi int) ([]T, error) {
	if lo < 0 || hi > t.NumElements() || lo > hi {
		return nil, t.errorf("elements [%d, %d) outside its %d", lo, hi, t.NumElements())
	}
	out := make([]T, hi-lo)
	if err := readFloatsInto(t, out, lo); err != nil {
		return nil, err
	}
	return out, nil
}

// readFloatsInto decodes the elements [lo, lo+len(out)) into out, in chunks.
func readFloatsInto[T float32 | float64](t *Tensor, out []T, lo int) error {
	if !t.DType.IsFloat() {
		return t.errorf("dtype %s is not a float dtype", t.DType)
	}
	if hi := lo + len(out); lo < 0 || hi > t.NumElements() {
		return t.errorf("elements [%d, %d) outside its %d", lo, hi, t.NumElements())
	}
	es := t.DType.Size()
	buf := make([]byte, min(len(out), decodeChunk)*es)
	for i := 0; i < len(out); i += decodeChunk {
		k := min(decodeChunk, len(out)-i)
		if err := t.readAt(buf[:k*es], int64((lo+i)*es)); err != nil {
			return err
		}
		if err := decodeFloats(out[i:i+k], buf[:k*es], t.DType); err != nil {
			return t.errorf("%v", err)
		}
	}
	return nil
}

// copyChunk is the buffer size of byte copies (WriteTo and side files).
const copyChunk = 1 << 20

// fileCopier is implemented by the writers WriteDir hands to Entry.Write: it
// copies n bytes of src at offset off to the output, in the kernel when the
// operating system can (copy_file_range on Linux). handled is false when it
// cannot copy that way; nothing was written then.
type fileCopier interface {
	copyFile(src *os.File, off, n int64) (written int64, handled bool, err error)
}

// WriteTo copies the tensor's raw bytes to w, in chunks of at most 1 MiB, or
// without passing them through user space when w is a writer of WriteDir.
func (t *Tensor) WriteTo(w io.Writer) (int64, error) {
	if fc, ok := w.(fileCopier); ok && t.size > 0 {
		if f, ok := t.r.(*os.File); ok {
			n, handled, err := fc.copyFile(f, t.offset, t.size)
			if handled {
				if err != nil {
					return n, t.errorf("copying data: %v", err)
				}
				return n, nil
			}
		}
	}
	buf := make([]byte, min(t.size, copyChunk))
	var done int64
	for done < t.size {
		k := min(int64(len(buf)), t.size-done)
		if err := t.readAt(buf[:k], done); err != nil {
			return done, err
		}
		n, err := w.Write(buf[:k])
		done += int64(n)
		if err != nil {
			return done, err
		}
		if int64(n) != k {
			return done, io.ErrShortWrite
		}
	}
	return done, nil
}
