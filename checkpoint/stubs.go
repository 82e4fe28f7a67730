package checkpoint

import "io"

// TODO(checkpoint): every function in this file is a placeholder with the final
// signature; the implementation replaces it (and deletes this file).

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
