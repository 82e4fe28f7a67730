package checkpoint

import "io"

// TODO(checkpoint): every function in this file is a placeholder with the final
// signature; the implementation replaces it (and deletes this file).

// Size returns the size of one element in bytes, or 0 for an unknown dtype.
func (d DType) Size() int { return 0 }

// IsFloat reports whether d is F64, F32, F16 or BF16.
func (d DType) IsFloat() bool { return d == F64 || d == F32 || d == F16 || d == BF16 }

// ParseDType parses "f32", "float32", "F32", "bf16", "bfloat16", "f16", "float16", "f64".
func ParseDType(s string) (DType, error) { return "", errTODO }

// ReadHeader parses and validates the safetensors header of the file of the given
// size read through r; name is used in error messages.
func ReadHeader(r io.ReaderAt, size int64, name string) (*File, error) { return nil, errTODO }

// OpenFile opens and validates one safetensors file.
func OpenFile(path string) (*File, error) { return nil, errTODO }

// Close closes the file.
func (f *File) Close() error { return nil }

// Open opens a model directory or a bare .safetensors file.
func Open(path string) (*Checkpoint, error) { return nil, errTODO }

// Tensor returns the tensor with the given name.
func (c *Checkpoint) Tensor(name string) (*Tensor, bool) { t, ok := c.byName[name]; return t, ok }

// Close closes every file.
func (c *Checkpoint) Close() error { return nil }

// NumElements returns Π Shape (1 for a scalar).
func (t *Tensor) NumElements() int { return 0 }

// ByteSize returns the length of the tensor's data in bytes.
func (t *Tensor) ByteSize() int64 { return t.size }

// Bytes reads the tensor's raw little-endian data.
func (t *Tensor) Bytes() ([]byte, error) { return nil, errTODO }

// Float32 reads and decodes a float tensor to float32 (F64 is rounded to nearest).
func (t *Tensor) Float32() ([]float32, error) { return nil, errTODO }

// Float64 reads and decodes a float tensor to float64 (exact for every float dtype).
func (t *Tensor) Float64() ([]float64, error) { return nil, errTODO }

// WriteTo copies the tensor's raw bytes to w.
func (t *Tensor) WriteTo(w io.Writer) (int64, error) { return 0, errTODO }

// ParseIndex parses a model.safetensors.index.json; name is used in errors.
func ParseIndex(data []byte, name string) (*Index, error) { return nil, errTODO }

// DecodeFloat32 decodes len(dst) elements of dtype dt from src.
func DecodeFloat32(dst []float32, src []byte, dt DType) error { return errTODO }

// DecodeFloat64 decodes len(dst) elements of dtype dt from src.
func DecodeFloat64(dst []float64, src []byte, dt DType) error { return errTODO }

// EncodeFloat32 encodes src into dst as dtype dt, rounding to nearest even; NaN and Inf are kept.
func EncodeFloat32(dst []byte, src []float32, dt DType) error { return errTODO }

// EncodeFloat64 encodes src into dst as dtype dt, rounding to nearest even; NaN and Inf are kept.
func EncodeFloat64(dst []byte, src []float64, dt DType) error { return errTODO }

// CopyEntry writes t unchanged (a byte copy).
func CopyEntry(t *Tensor) Entry { return Entry{} }

// ConvertEntry writes t under name converted to dtype dt (a byte copy when dt == t.DType).
func ConvertEntry(t *Tensor, name string, dt DType) Entry { return Entry{} }

// Float32Entry writes the float32 values produced by data, encoded as dt.
func Float32Entry(name string, dt DType, shape []int, data func() ([]float32, error)) Entry {
	return Entry{}
}

// Float64Entry writes the float64 values produced by data, encoded as dt.
func Float64Entry(name string, dt DType, shape []int, data func() ([]float64, error)) Entry {
	return Entry{}
}

// WriteSafetensors writes one safetensors file with the given entries and metadata to w.
func WriteSafetensors(w io.Writer, entries []Entry, metadata map[string]string) error {
	return errTODO
}

// WriteDir writes a model directory: shards (model.safetensors, or
// model-0000i-of-0000N.safetensors with an index), config.json and side files,
// atomically (temporary directory beside dir, renamed at the end).
func WriteDir(dir string, entries []Entry, opts WriteOptions) error { return errTODO }

// ParseSize parses a size such as "5GB", "500MB", "2GiB" or "1000" (bytes).
func ParseSize(s string) (int64, error) { return 0, errTODO }
