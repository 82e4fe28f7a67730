// Package checkpoint reads and writes Hugging Face checkpoints: safetensors files
// (headers parsed and validated from disk, tensor data read lazily), sharded index
// files, config.json, and whole model directories written atomically.
//
// Nothing in this package knows about model families beyond config.json keys; the
// mapping of tensor names to roles lives in package graph.
package checkpoint
