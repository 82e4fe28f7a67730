// Package checkpoint reads and writes Hugging Face checkpoints: safetensors files
// (headers parsed and validated from disk, tensor data read lazily), sharded index
// files, config.json, and whole model directories written atomically.
//
// Nothing in this package knows about model families beyond config.json keys; the
// mapping of tensor names to roles lives in package graph.
//
// # Reading
//
// Open takes a model directory (config.json with model.safetensors, or
// model.safetensors.index.json and its shards) or a bare .safetensors file.
// Headers are read through io.ReaderAt (pread), never by mapping or reading whole
// files, and validated as the official implementation does (ReadHeader lists the
// rules); an index is checked against its shards (Index.Check). A Tensor is a lazy
// record: Bytes, Float32, Float64 and WriteTo read its data when called.
//
// # Dtypes
//
// F64, F32, F16 and BF16 decode exactly to float64 (and to float32, F64 rounded)
// and encode with round-to-nearest-even, NaN and ±Inf kept, a float64 value
// rounded once. Integer and BOOL tensors are passed through as bytes.
//
// # Writing
//
// An Entry describes one output tensor and streams its bytes. WriteDir computes
// every header first, shards greedily by size (HF file names and index), then
// streams the entries one at a time into a temporary directory beside the target
// and renames it into place; unchanged tensors are copied file to file in the
// kernel where the operating system allows. Every error names the file, and the
// tensor or key where there is one.
package checkpoint
