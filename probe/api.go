package probe

// This file holds the types other packages use. The forward pass is in model.go
// and forward.go, the equivalence report in check.go.

import (
	"sync"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
)

// Precision is the arithmetic of a forward pass.
type Precision string

// Precisions.
const (
	F32 Precision = "f32"
	F64 Precision = "f64"
)

// Exactness classes an operator can claim (package claim; docs/exactness.md).
const (
	BitExact      = claim.BitExact
	Exact         = claim.Exact
	ExactUpToEps  = claim.ExactUpToEps
	Approx        = claim.Approx
	NonPreserving = claim.NonPreserving
)

// MetadataKey is the safetensors __metadata__ key of an operator's Mapping
// (claim.MetadataKey).
const MetadataKey = claim.MetadataKey

// HiddenMap says how a source hidden state maps to the grown model's
// (claim.HiddenMap).
type HiddenMap = claim.HiddenMap

// Mapping is what an operator records about its output so that Check can
// judge it (claim.Mapping).
type Mapping = claim.Mapping

// Model is a graph ready to run: weights decoded once in the chosen precision.
// A Model is safe for concurrent use by several goroutines.
type Model struct {
	g    *graph.Graph
	prec Precision

	// SkipHidden, when true, leaves Result.Hidden nil (saves memory and time when
	// only the logits are wanted).
	SkipHidden bool

	// Observe, when not nil, is called during every forward pass with the
	// activations of each block (Site), before they are used; the slice is
	// a float64 copy the observer may keep. It is called from the goroutine
	// running the pass: set it before running, and make it safe to call
	// concurrently when several passes run at once.
	Observe func(layer int, site Site, x []float64, rows, width int)

	arch arch
	// stream: the weight matrices are read as each pass runs (Open).
	stream bool
	w32    *weights[float32]
	w64    *weights[float64]

	// growth, when set, makes the forward pass MSG's masked one
	// (SetGrowthMasks).
	growth *GrowthMasks

	ropeMu  sync.Mutex
	rope32  ropeTable[float32]
	rope64  ropeTable[float64]
	invFreq []float64
}

// Site names the activations of a block that a forward pass reports to
// Model.Observe. Rows are the positions of every sequence of the batch, one
// after the other.
type Site int

// Sites.
const (
	// AttnInput is what the attention's projections read: the normalised
	// residual stream (the stream itself where the norms come after the
	// sublayers: post-LN, OLMo-2), [rows, D].
	AttnInput Site = iota
	// Heads is the attention's output before the output projection, the
	// heads one after the other, [rows, H·d].
	Heads
	// MLPInput is what the MLP's first projections read, [rows, D].
	MLPInput
	// Units are the MLP's unit activations that the down projection reads
	// (act(gate)·up, or act(up)), [rows, I].
	Units
)

// Result is the output of one forward pass over one sequence.
type Result struct {
	// Logits[t] are the output logits at position t (BERT without an MLM head: the
	// last hidden state).
	Logits [][]float64
	// Hidden[j][t] is the residual-stream hidden state after the embeddings (j = 0)
	// and after each block j = 1..L, at position t.
	Hidden [][][]float64
}

// CheckOptions control Check.
type CheckOptions struct {
	Probes    int       // number of random probe sequences (default 8)
	SeqLen    int       // their length (default 32)
	Seed      int64     // probe seed (default 1)
	IDs       [][]int   // explicit probe sequences (used instead of random ones when set)
	Precision Precision // default F64
	Tol       float64   // fail when the max-abs logits difference exceeds Tol (0: no limit); a bound verified
	// Expect, when not "", is the weakest class the check accepts: a claim
	// weaker than it (claim.Rank) fails, whatever the numbers.
	Expect string

	// Growth, when set, are the result's MSG masks: the result runs its
	// masked forward pass (Model.SetGrowthMasks); SourceGrowth the same for
	// the source (a masked model baked into a plain one is checked against
	// its masked self).
	Growth, SourceGrowth *GrowthMasks

	// Blocks, when set, checks the result's blocks [From, To) alone: a
	// slice of the check. A slice after block 0 is fed with the source's
	// hidden states mapped to the result's width (it needs the claim's map
	// of hidden states); the slice that starts at block 0 also compares the
	// embeddings, the one that ends with the last block the logits. Its
	// report holds a Slice, for Merge.
	Blocks *Blocks

	// First, when not nil, are the ids every random probe starts with (for example
	// [CLS] read from a tokenizer); nil picks them from the source config (see
	// FirstIDs); an empty non-nil slice starts the probes with random ids.
	First []int
}

// Report is the outcome of Check.
type Report struct {
	MaxAbs   float64 `json:"max_abs"`
	Rel      float64 `json:"rel"` // MaxAbs / max|logits of the source|
	MaxLogit float64 `json:"max_abs_logit"`
	MeanKL   float64 `json:"mean_kl"`
	MaxKL    float64 `json:"max_kl"`
	Top1     float64 `json:"top1_agreement"` // fraction of positions whose argmax agrees
	// LayerDev[j] is max |map(h_src) − h_dst| of hidden state j over the probes;
	// LayerDev[0] (the embeddings) also covers every token id of the shared
	// vocabulary and every learned position, not only the probed ones.
	LayerDev    []float64 `json:"layer_deviation,omitempty"`
	PositionDev []float64 `json:"position_deviation,omitempty"`
	// Class is the class judged: the mapping's, EXACT for two models of the
	// same hidden size without one, "" for no claim at all.
	Class string `json:"class"`
	// Verdict is "PASS", "PASS (...)", "FAIL: reasons" or "NOTHING TO VERIFY: why".
	Verdict string `json:"verdict"`
	// Outcome is OutcomePass, OutcomeFail or OutcomeUnverified.
	Outcome string `json:"outcome"`
	// Pass is true when no rule failed (Outcome PASS or NOTHING TO VERIFY);
	// Verified when, besides, a claim that promises something held (Outcome
	// PASS).
	Pass     bool `json:"pass"`
	Verified bool `json:"verified"`
	// ClaimFrom says where the claim was read (set by the caller: Check
	// is given the mapping, not where it came from).
	ClaimFrom string `json:"claim_from,omitempty"`
	// HiddenMap is the hidden-state map the check used ("" when none).
	HiddenMap string `json:"hidden_map,omitempty"`
	// Relation says whether the embeddings correspond under the hidden map
	// (nil when it could not be computed).
	Relation *Relation `json:"embedding_relation,omitempty"`

	// Precision is the arithmetic the check ran in.
	Precision Precision `json:"precision"`
	// Probes and Positions count the probe sequences and the positions compared.
	Probes    int `json:"probes"`
	Positions int `json:"positions"`
	// Operator is the operator named by the mapping ("" when none was given).
	Operator string `json:"operator,omitempty"`
	// LayerMap[j] is the source hidden-state index compared with the grown hidden
	// state j (-1: none; LayerDev[j] is then -1 too).
	LayerMap []int `json:"layer_map,omitempty"`
	// Notes say what was assumed or could not be compared.
	Notes []string `json:"notes,omitempty"`

	// Cost is what the check did: its arithmetic, its reads, its wall time
	// and the rate achieved (for a merge, summed over the slices).
	Cost *Estimate `json:"cost,omitempty"`
	// Slice is set on the report of a slice (CheckOptions.Blocks); MergedFrom
	// lists the slices a merged report (Merge) was made from.
	Slice      *Slice   `json:"slice,omitempty"`
	MergedFrom []string `json:"merged_from,omitempty"`
}
