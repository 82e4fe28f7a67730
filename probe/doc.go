// Package probe runs transformer checkpoints forward, in Go, over the weight graph,
// and compares two models on the same probe inputs: the proof behind every
// operator grow applies.
//
// New validates a graph (every tensor against the dims, the config against the
// dims) and decodes its weights once in float64 or float32; Model.Forward and
// Model.ForwardBatch run whole sequences (GPT-2, the LLaMA family, BERT) and
// return the logits at every position and the hidden state after the
// embeddings and after every block. The semantics are those of transformers
// (docs/exactness.md); the tests compare them with llama2.c, llm.c and an
// independent float64 forward, and the interop tests with transformers.
//
// Check runs a source and a grown model on the same deterministic probes and
// judges the differences for the exactness class the operator claims
// (docs/exactness.md), using the Mapping the operator recorded (ReadMapping) to
// compare hidden states layer by layer.
package probe
