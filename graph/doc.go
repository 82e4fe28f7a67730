// Package graph is grow's architecture-neutral view of a transformer checkpoint:
// embeddings, per-layer attention and MLP matrices, norms and the output head, with
// every matrix in [out, in] layout whatever the family stores on disk.
//
// Operators transform a Graph without knowing model families; one table per family
// (gpt2, llama, bert) maps tensor names to roles and back.
package graph
