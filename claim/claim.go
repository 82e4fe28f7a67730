// Package claim is the vocabulary in which an operator states what its
// output computes and in which grow check judges it: the exactness classes,
// the map from source to grown hidden states, the layer map, and the JSON
// that carries them in every shard's safetensors metadata.
//
// Operators (package grow) write a Mapping; the forward pass and the
// equivalence report (package probe) read it. Neither imports the other.
package claim

// Exactness classes an operator can claim, from the strictest: bit-for-bit
// equal outputs; equal up to floating-point rounding of an exact identity;
// equal up to a small epsilon the operator introduces on purpose; an
// approximation; no preservation claimed.
const (
	BitExact      = "BIT-EXACT"
	Exact         = "EXACT"
	ExactUpToEps  = "EXACT-UP-TO-EPS"
	Approx        = "APPROX"
	NonPreserving = "NON-PRESERVING"
)

// MetadataKey is the safetensors __metadata__ key under which an operator stores
// its Mapping (as JSON) in every shard of its output.
const MetadataKey = "grow.mapping"

// HiddenMap says how a hidden state h of the source (width Src) maps to the grown
// model's hidden state h' (width Dst):
//
//	Kind "tile": h'[i] = h[i mod Src] for i < q·Src with q = Dst/Src (integer part),
//	             and Fill for the Dst mod Src remaining coordinates;
//	Kind "pad":  h'[i] = h[i] for i < Src, Fill after.
//
// Fill is "zero" (0) or "mean" (the mean of h over its Src coordinates). Src == Dst
// with Kind "tile" is the identity.
type HiddenMap struct {
	Kind string `json:"kind"`
	Src  int    `json:"src"`
	Dst  int    `json:"dst"`
	Fill string `json:"fill,omitempty"`
}

// Mapping is what an operator records about its output so that a check can
// judge it.
type Mapping struct {
	// Operator and Class: e.g. "hypercloning", Exact.
	Operator string `json:"operator"`
	Class    string `json:"class"`
	// Hidden maps every residual-stream hidden state.
	Hidden HiddenMap `json:"hidden"`
	// Layers[j] is the source hidden-state index that grown hidden state j
	// (0 = embeddings output, l = after block l) corresponds to, or -1 when none.
	// Nil means the identity (same depth).
	Layers []int `json:"layers,omitempty"`
	// Rounded names the dtype ("F32", "F16", "BF16") in which the operator's values
	// were rounded on storage when its arithmetic is not exact in that dtype
	// (a division by 3, random fan-in splits, noise); empty when storage added no
	// rounding of its own. A check then judges an EXACT claim with the float32
	// rule whatever precision it runs in, since the stored weights themselves
	// differ from the exact ones by a float32-sized amount.
	Rounded string `json:"rounded,omitempty"`
	// Storage names the dtype ("F32", "F16", "BF16") the result's float tensors
	// were rounded to after the operator, when narrower than the source's
	// (grow convert --dtype, grow expand --dtype); empty when none. A check then
	// compares the result with the source rounded to Storage: what the result
	// can preserve is the function of the source as that dtype holds it.
	Storage string `json:"storage,omitempty"`
	// Masked says the claim holds for the result's masked forward pass (MSG):
	// its growth masks and their value are in GrowthStateFile beside it, and
	// a check without them cannot judge it.
	Masked bool `json:"masked,omitempty"`
}
