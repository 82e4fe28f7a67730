// Package probe runs transformer checkpoints forward, in Go, over the weight graph,
// and compares two models on the same probe inputs: the proof behind every
// operator grow applies.
package probe
