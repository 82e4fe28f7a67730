// Package graph is grow's architecture-neutral view of a transformer checkpoint:
// embeddings, per-layer attention and MLP matrices, norms and the output head, with
// every matrix in [out, in] layout whatever the family stores on disk.
//
// Operators transform a Graph without knowing model families. A family is a
// descriptor of package family (graph/family), one file per model_type: its
// tensor table (names before the layers, a per-layer template, names after,
// with their storage and the conditions of optional tensors) maps tensor
// names to roles and back, and its features say what the forward pass and the
// operators need to know (Graph.Descriptor, Graph.Features). Nothing outside
// this package and the config reading of package checkpoint tests which family
// a model is.
//
// # Reading
//
// FromCheckpoint checks the config against the tensors (every shape the config
// implies, the layer count, biases, the tie of the output head) and accounts for
// every tensor: it lands in a role (Graph fields, listed by Roles) or in an Extra
// with an explicit rule; anything else is an error naming the tensor and its file.
// Weights are lazy Views of the checkpoint's tensors: GPT-2's Conv1D matrices are
// transposed views and its fused c_attn is three row-range views (q, k, v), so
// operators only ever see [out, in]. A head stored beside a tied embedding must
// equal it and becomes a "drop" Extra.
//
// # Writing
//
// Entries maps a graph back to its family's names, in the naming (prefix) it was
// read with: it re-transposes Conv1D matrices and re-fuses c_attn, writes
// lm_head.weight (or BERT's cls.predictions.decoder.weight) only when the graph is
// untied, and byte-copies every tensor that is still an unchanged view of a source
// tensor. Any Tensor implementation works (Dense, an operator's lazy tensor):
// shapes are checked against Dims, data is read only when an Entry is written.
// OutputConfig writes the graph's dims, eps, tie and biases into a copy of the
// config.
//
// # Extras and their rules
//
//	gpt2.attn.mask, gpt2.attn.masked_bias   drop    (old causal-mask buffers)
//	llama.rotary_inv_freq                   drop    (old RoPE buffer)
//	head.tied_copy, head.bias.tied_copy     drop    (stored copies of tied tensors)
//	bert.pooler.weight, bert.pooler.bias    hidden  ([D, D], [D])
//	bert.nsp.weight                         hidden  ([2, D]: its D axis is hidden)
//	bert.nsp.bias                           copy
//	bert.position_ids, bert.token_type_ids  copy    (integer buffers)
package graph
