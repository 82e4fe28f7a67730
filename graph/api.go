package graph

import (
	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph/family"
)

// Family names the roles a model family's tensors map to (a family
// descriptor's Family; package family describes each model_type).
type Family string

// The families of the registered descriptors. Mistral, Qwen2, Qwen3, Phi-3
// and Gemma are FamilyLlama with their own model_type.
const (
	FamilyGPT2    Family = "gpt2"
	FamilyLlama   Family = "llama"
	FamilyBERT    Family = "bert"
	FamilyGPTNeoX Family = "gpt_neox"
	FamilyOPT     Family = "opt"
	FamilyOLMo2   Family = "olmo2"
)

// Tensor is a weight of the graph. Matrices are [out, in].
type Tensor interface {
	// Shape returns the logical shape ([out, in] for matrices, [n] for vectors).
	Shape() []int
	// DType is the dtype the data comes in (the source's dtype for views).
	DType() checkpoint.DType
	// Float32 returns the data, row-major, as float32.
	Float32() ([]float32, error)
	// Float64 returns the data, row-major, as float64.
	Float64() ([]float64, error)
}

// NormKind is LayerNorm or RMSNorm.
type NormKind = family.NormKind

// Norm kinds.
const (
	LayerNorm = family.LayerNorm
	RMSNorm   = family.RMSNorm
)

// Linear is y = W x + b with W [out, in]; B is nil when there is no bias.
type Linear struct {
	W, B Tensor
}

// Norm is a LayerNorm (W gain, B bias) or RMSNorm (W only) over the hidden
// axis, or over one head's width for a layer's QNorm and KNorm.
type Norm struct {
	W, B Tensor
}

// Layer is one transformer block.
//
// Pre-LN (GPT-2, LLaMA): h += O·Attn(AttnNorm(h)); h += Down·MLP(MLPNorm(h)).
// Parallel (GPT-NeoX): h += O·Attn(AttnNorm(h)) + Down·MLP(MLPNorm(h)).
// Norms after the sublayers (OLMo-2): h += AttnOutNorm(O·Attn(h));
// h += MLPOutNorm(Down·MLP(h)).
// Post-LN (BERT): h = AttnNorm(h + O·Attn(h)); h = MLPNorm(h + Down·MLP(h)).
type Layer struct {
	AttnNorm, MLPNorm Norm
	// AttnOutNorm and MLPOutNorm normalise the attention's and the MLP's
	// outputs before they are added to the stream (family.NormsOut:
	// OLMo-2's post_attention_layernorm and post_feedforward_layernorm;
	// zero otherwise): roles attn_out_norm, mlp_out_norm.
	AttnOutNorm, MLPOutNorm Norm
	// Q [H·d, D], K and V [K·d, D], O [D, H·d].
	Q, K, V, O Linear
	// QNorm and KNorm normalise each query and each key head (W [d]) after Q
	// and K and before RoPE, in a family with QK-norm (Qwen3's q_norm and
	// k_norm; zero otherwise): roles attn.q_norm.weight, attn.k_norm.weight
	// (and .bias, which no registered family has).
	QNorm, KNorm Norm
	// QProjNorm [H·d] and KProjNorm [K·d] normalise the whole query and key
	// projections after Q and K and before RoPE, in a family with
	// Features.QKNormWhole (OLMo-2's q_norm and k_norm; zero otherwise):
	// roles attn.q_proj_norm, attn.k_proj_norm.
	QProjNorm, KProjNorm Norm
	// Up [I, D], Gate [I, D] (LLaMA only; W nil otherwise), Down [D, I].
	Up, Gate, Down Linear
}

// Dims are the graph's sizes.
type Dims struct {
	Hidden    int // D
	Layers    int // L
	Heads     int // H, query heads
	KVHeads   int // K, key/value heads
	HeadDim   int // d
	FFN       int // I
	Vocab     int // V
	Positions int // learned positions (GPT-2, BERT); max_position_embeddings for RoPE
	TypeVocab int // BERT token types
}

// Extra is a family-specific tensor that is not part of the common roles (BERT
// pooler, MLM transform, GPT-2 causal-mask buffers, position_ids buffers), with
// the explicit rule that says what happens to it.
type Extra struct {
	// Name is the tensor's name in the checkpoint.
	Name string
	// Role says what the tensor is, e.g. "bert.pooler.weight", "gpt2.attn.mask".
	Role string
	// Rule is what operators do with it: "hidden" (a [D] vector or a matrix whose
	// axes of size D are hidden axes: BERT's pooler [D, D] and next-sentence head
	// [2, D]; transformed like a norm or a linear map), "copy" (kept as it is) or
	// "drop" (not written).
	Rule string
	T    Tensor
}

// Graph is a whole model.
type Graph struct {
	Family Family
	// Config is the source's config (operators clone and edit it).
	Config *checkpoint.Config
	Dims
	NormKind NormKind
	Eps      float64
	// Act is the MLP activation: "gelu_new" (tanh GELU), "gelu" (exact), "silu".
	Act string
	// PostLN is true for BERT.
	PostLN bool
	// RopeTheta is the RoPE base (0 without RoPE); RopeScaling the config's rope_scaling.
	RopeTheta   float64
	RopeScaling map[string]any
	// RotaryFraction is the fraction of each head's width that RoPE rotates
	// (the config's partial_rotary_factor where the family has one); 0 means
	// the family's (Features.RotaryFraction). See RotaryDim.
	RotaryFraction float64
	// ParallelResidual: each block's attention and MLP read its input and
	// both add to it (GPT-NeoX's use_parallel_residual).
	ParallelResidual bool

	// Embed [V, D]; Pos [P, D] (nil for RoPE); TokenType [T, D] (BERT only).
	Embed, Pos, TokenType Tensor
	// PosPad [2, D] are the learned position rows before position 0 that
	// OPT's offset of 2 keeps (a padded position reads row 1); nil
	// otherwise. Role pos_pad.
	PosPad Tensor
	// EmbedNorm is BERT's embedding LayerNorm.
	EmbedNorm Norm
	Layers    []Layer
	// FinalNorm is GPT-2 ln_f / LLaMA model.norm (zero for BERT).
	FinalNorm Norm
	// Head is the output matrix [V, D]; nil when Tied (the head is Embed).
	Head Tensor
	Tied bool
	// Headless is true for a base model without an output head (GPT2Model,
	// LlamaModel, BertModel): Head is nil and nothing is written for it, whatever
	// Tied says (Tied keeps the config's tie_word_embeddings).
	Headless bool
	// HeadBias is BERT's cls.predictions.bias [V] (nil otherwise).
	HeadBias Tensor
	// MLMTransform and MLMNorm are BERT's cls.predictions.transform (zero when absent).
	MLMTransform Linear
	MLMNorm      Norm
	// Extras are the family-specific tensors with their rules.
	Extras []Extra

	// names is the naming the graph was read with (tensor-name prefix); the zero
	// value means the family's default for the config's architecture.
	names naming
}

// Role is one tensor of a graph named by its role, with its checkpoint name(s).
type Role struct {
	// Role is e.g. "embed", "layers.3.attn.q.weight", "final_norm.weight".
	Role string
	// Names are the checkpoint tensor names it comes from (several for a fused tensor).
	Names []string
	T     Tensor
	// Rule is the Extra rule ("hidden", "copy", "drop") for
	// family extras, "" for the common roles.
	Rule string
	// AsIs is true when the checkpoint tensor holds this role alone and in
	// the graph's own layout (false for GPT-2 Conv1D matrices, stored
	// transposed, and for the parts of a fused c_attn).
	AsIs bool
}
