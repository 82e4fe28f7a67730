// Package grow holds grow's width-growth operators (HyperCloning, LEMON and
// zero-padding transfer), written once over the architecture-neutral weight graph.
//
// Every operator is a set of per-axis index maps (hidden, query heads, key/value
// heads, FFN units) plus a few per-tensor rules (norm rescaling, fan-in splits,
// the output-head fix); Expand turns them into a Plan and a new graph.Graph whose
// tensors are computed lazily, one at a time, when they are written or probed.
package grow
