// Package selection is weight selection: a smaller model of a teacher's
// architecture initialised from a consistent subset of the teacher's weights
// (grow shrink), after Xu et al. 2024, "Initializing Models with Larger
// Ones". Each semantic axis keeps one index set that every tensor on it
// shares: the residual stream everywhere, each block's query heads (whole
// heads), key/value groups and FFN units, the kept blocks. Index sets come
// from the paper's uniform rule (Uniform), the first indices, a seeded random
// draw, or importance measured by activations in grow's own forward pass
// (Measure, after Minitron). Shrink is the operator; PlanOf turns index sets
// into the transform engine's plan; Verify checks that a student is its
// teacher at the recorded sets; Evaluate and Compare measure what a student
// starts with against random initialisation.
//
// The folder is named select, a Go keyword, so the package clause differs.
package selection
