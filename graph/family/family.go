// Package family describes the model families grow reads and writes: one
// Descriptor per transformers model_type, in one registry, each declared in
// a file of its own.
//
// A descriptor is data. It says how the family spells its config.json (key
// names, aliases, defaults), how its checkpoint names and stores its tensors
// (the names before the layers, a per-layer template, the names after; fused
// and transposed storage; optional tensors and the conditions that make them
// present), what the forward pass needs to know (norm kind, pre- or post-LN,
// causal or not, learned or rotary positions, gated MLP, QK-norm, biases,
// derived or explicit head_dim) and which shapes transformers' config class
// refuses. Package checkpoint reads and writes config.json from it, package
// graph maps tensor names to roles from it, and the packages above graph ask
// a graph's descriptor for features instead of testing which family a model
// is.
//
// The package imports nothing of grow, so that checkpoint and graph can both
// build on it.
package family

import (
	"fmt"
	"slices"
	"strings"
)

// Descriptor is one model_type: everything grow knows about it that is not a
// weight. Descriptors are shared; callers must not modify them.
type Descriptor struct {
	// ModelType is config.json's model_type, the registry's key.
	ModelType string
	// Family names the graph roles its tensors map to (graph.Family): model
	// types with the same Family share the roles (LLaMA, Mistral and Qwen2
	// are "llama").
	Family string
	// Name is how messages name the family, e.g. "GPT-2".
	Name string
	// ConfigClass is transformers' configuration class, e.g. "LlamaConfig".
	ConfigClass string

	Config      Config
	Features    Features
	Constraints Constraints
	Tensors     Tensors
}

// Config says how a family spells its config.json. Every value has a list of
// spellings: the first is the family's own key, which Marshal always writes;
// the others are aliases accepted on read (they must agree with each other)
// and written back only where the source config had them. A nil list means
// the family has no such key.
type Config struct {
	// Required positive integers (FFN unless FFNPerHidden is set).
	Hidden, Layers, Heads, FFN, Vocab []string
	// KVHeads and HeadDim are optional (KVHeads defaults to Heads, HeadDim to
	// HeadDimDefault). A family whose Features.HeadDim is Derived has no
	// HeadDim key, and KVHeads only with grouped-query attention
	// (Features.GQA: Phi-3).
	KVHeads, HeadDim []string
	// HeadDimDefault is head_dim when the config does not give it; 0 means
	// Hidden/Heads (Qwen3Config's default is 128 whatever the width).
	HeadDimDefault int
	// Positions is the learned position table's length or, with rotary
	// positions, max_position_embeddings.
	Positions        []string
	PositionsDefault int
	// TypeVocab is the number of token types (BERT).
	TypeVocab        []string
	TypeVocabDefault int
	// FFNPerHidden, when positive, makes the FFN key optional: absent or
	// null, the FFN width is FFNPerHidden × the hidden width (GPT-2's
	// n_inner: 4).
	FFNPerHidden int

	// NormEps are the keys of the norms' epsilon; nil for a family whose
	// config has none, whose eps is NormEpsDefault whatever the model (OPT's
	// nn.LayerNorm default 1e-5): an operator cannot change it.
	NormEps        []string
	NormEpsDefault float64
	Act            []string
	ActDefault     string
	// ActAliases map an activation as the config spells it to what the
	// config class makes of it (GemmaConfig reads a legacy "gelu" as
	// "gelu_pytorch_tanh"); the config keeps its spelling.
	ActAliases map[string]string
	// TiedDefault is tie_word_embeddings when the config does not say.
	TiedDefault bool
	// RotaryFraction are the keys of the fraction of each head that rotary
	// positions rotate (partial_rotary_factor), nil for a family that always
	// rotates Features.RotaryFraction. The value may also sit in the v5
	// rope_parameters object as partial_rotary_factor (GPT-NeoX's v4 key is
	// rotary_pct); where both are present they must agree. Absent, it is
	// Features.RotaryFraction.
	RotaryFraction []string
	// RopeTheta are the keys of the RoPE base at the top level of a v4
	// config, nil for "rope_theta" (GPT-NeoX's is rotary_emb_base); the v5
	// rope_parameters object holds it as rope_theta.
	RopeTheta []string

	// AttentionBias and MLPBias are the keys of the bias switches (see
	// BiasIfAttention and BiasIfMLP), "" for a family without them; both may
	// name one key (OPT's enable_bias). BiasDefault is a switch's value when
	// the config does not give it (GPT-NeoX's attention_bias and OPT's
	// enable_bias are true).
	AttentionBias, MLPBias string
	BiasDefault            bool

	// ParallelResidual is the key of the switch that runs attention and the
	// MLP side by side on a block's input (GPT-NeoX's use_parallel_residual:
	// h + attn(ln1(h)) + mlp(ln2(h))), "" for a family without it;
	// ParallelResidualDefault its value when the config does not give it.
	ParallelResidual        string
	ParallelResidualDefault bool

	// Requires are settings of the config class that grow computes only one
	// way: a config that sets one otherwise is refused with the reason (OPT's
	// post-LN do_layer_norm_before false).
	Requires []Require

	// WriteOnly are further keys that carry a value but are not read: they
	// are written, from the value they name, only where the source config
	// had them (GPT-2's n_ctx).
	WriteOnly []Alias
}

// Require is a config key whose value must be Want (or, with EqualsHidden,
// the hidden width); absent or null, the config class's default is that
// value. Why says what the other values mean, for the refusal.
type Require struct {
	Key string
	// Want is the supported value as encoding/json decodes it (true,
	// "absolute", 1.0).
	Want         any
	EqualsHidden bool
	Why          string
}

// Alias is a config key that carries one of the typed values.
type Alias struct {
	Key   string
	Value Value
}

// Value names a typed config value.
type Value string

// Values an Alias can carry.
const (
	ValueHidden    Value = "hidden"
	ValueLayers    Value = "layers"
	ValueHeads     Value = "heads"
	ValuePositions Value = "positions"
)

// BlockNorms says where the norms of a pre-LN block sit.
type BlockNorms string

// Block norm placements.
const (
	// NormsIn (the zero value): each sublayer reads a norm of the stream,
	// h += attn(norm(h)); h += mlp(norm(h)) (graph roles attn_norm,
	// mlp_norm).
	NormsIn BlockNorms = ""
	// NormsOut: each sublayer reads the stream and its output is normalised
	// before it is added, h += norm(attn(h)); h += norm(mlp(h)) (OLMo-2's
	// post_attention_layernorm and post_feedforward_layernorm: graph roles
	// attn_out_norm, mlp_out_norm).
	NormsOut BlockNorms = "out"
)

// NormKind is the kind of every norm of a family.
type NormKind string

// Norm kinds.
const (
	LayerNorm NormKind = "layernorm"
	RMSNorm   NormKind = "rmsnorm"
)

// Positions is how a family encodes positions.
type Positions string

// Position encodings.
const (
	// Learned absolute position embeddings, a [P, D] table added to the
	// token embeddings.
	Learned Positions = "learned"
	// Rotary position embeddings (RoPE, Su et al. 2021, arXiv 2104.09864)
	// applied to queries and keys.
	Rotary Positions = "rotary"
)

// HeadDim is how a family's config gives the width of an attention head.
type HeadDim string

// Head-width rules.
const (
	// Derived: head_dim is hidden/heads, and heads must divide hidden
	// (GPT2Config, BertConfig).
	Derived HeadDim = "derived"
	// Explicit: the config may give head_dim; without it, hidden/heads.
	Explicit HeadDim = "explicit"
)

// Bias says when a group of linear maps has biases.
type Bias string

// Bias rules.
const (
	BiasNever  Bias = "never"
	BiasAlways Bias = "always"
	// BiasIfAttention: when the config's attention-bias switch
	// (Config.AttentionBias) is on.
	BiasIfAttention Bias = "if-attention-bias"
	// BiasIfMLP: when the config's MLP-bias switch (Config.MLPBias) is on.
	BiasIfMLP Bias = "if-mlp-bias"
)

// Biases are the bias rules of the linear maps of a layer.
type Biases struct {
	QKV Bias // query, key and value projections
	O   Bias // attention output projection
	MLP Bias // up, gate and down projections
}

// Features are what the forward pass needs to know about a family.
type Features struct {
	Norm NormKind
	// PostLN: the norms follow the residual additions (BERT); otherwise they
	// precede each block and a final norm precedes the head.
	PostLN bool
	// EmbedNorm: a norm follows the embeddings (BERT).
	EmbedNorm bool
	// Causal: each position attends to itself and the positions before it;
	// otherwise attention is bidirectional (an encoder, probed with padded
	// batches and their attention mask).
	Causal bool
	// Positions is the position encoding; RotaryFraction the fraction of each
	// head's width that rotary positions rotate (1 for LLaMA; 0 with learned
	// positions), or its default where the config gives it
	// (Config.RotaryFraction: Phi-3's partial_rotary_factor). Rotary positions
	// rotate the first int(head_dim × fraction) dims of each head, pairing dim
	// j with j + rotary_dim/2, and pass the rest through.
	Positions      Positions
	RotaryFraction float64
	// TokenTypes: a token-type embedding table is added (BERT).
	TokenTypes bool
	// GatedMLP: the MLP is down(act(gate(x)) ⊙ up(x)) (SwiGLU, Shazeer 2020,
	// arXiv 2002.05202); otherwise down(act(up(x))). The activation is the
	// config's (Config.Act, Config.ActDefault).
	GatedMLP bool
	// QKNorm: queries and keys are normalised after their projections and
	// before rotary positions, by a norm of the family's kind with the
	// config's eps: per head, over head_dim (Qwen3's q_norm and k_norm, graph
	// roles attn.q_norm and attn.k_norm), or, with QKNormWhole, over the
	// whole query and key projections, H·d and K·d wide (OLMo-2's q_norm
	// and k_norm, graph roles attn.q_proj_norm and attn.k_proj_norm).
	QKNorm      bool
	QKNormWhole bool
	// NormPlusOne: a norm's stored gain w multiplies as (1 + w) (Gemma's
	// RMSNorm, whose gains start at 0): a gain rescaled by s is stored as
	// s·(1 + w) − 1, and a gain of 0 as −1.
	NormPlusOne bool
	// EmbedScale: the token embeddings are multiplied by sqrt(hidden_size),
	// rounded to the model's dtype, before the first block (Gemma). The
	// factor follows the hidden width, so a wider model reproduces a
	// stream only with its embeddings rescaled by sqrt(D)/sqrt(D').
	EmbedScale bool
	// BlockNorms says where a block's norms sit (pre-LN families).
	BlockNorms BlockNorms
	// PositionsFromMask: learned positions count the positions an
	// attention mask keeps (OPT: cumsum(mask)·mask − 1, a padded position
	// reading the row before position 0), so that they differ from 0, 1, …
	// in a padded batch.
	PositionsFromMask bool
	Biases            Biases
	// HeadDim is how the config gives the head width.
	HeadDim HeadDim
	// GQA: the key/value heads may be fewer than the query heads
	// (grouped-query attention, Ainslie et al. 2023, arXiv 2305.13245).
	GQA bool
	// MLMHead: the output head is BERT's optional masked-LM head (a dense
	// transform, a norm, the decoder and its bias); a model without it is an
	// encoder whose output is its last hidden state.
	MLMHead bool
	// AttnScaleKeys: the config's scale_attn_weights and
	// scale_attn_by_inverse_layer_idx change the attention scale (GPT2Config).
	AttnScaleKeys bool
	// PositionTypeKey, when set, is a config key whose only supported value
	// is "absolute" (BERT's position_embedding_type).
	PositionTypeKey string
	// SlidingWindow says how the config restricts attention to a window.
	SlidingWindow SlidingWindow
	// Start is the token a probe sequence starts with.
	Start StartToken
}

// SlidingWindow is how a config asks for sliding-window attention. The zero
// value means the family has none. A per-layer layer_types list, where the
// config has one, says which layers slide.
type SlidingWindow struct {
	// Key holds the window size (sliding_window).
	Key string
	// UseKey, when set, is a boolean switch that must be true for any layer
	// to slide (Qwen2's use_sliding_window); otherwise every layer slides
	// when Key is set.
	UseKey string
	// MaxLayersKey, with UseKey, is the first layer that slides (Qwen2's
	// max_window_layers).
	MaxLayersKey string
}

// StartToken is the token a random probe sequence starts with.
type StartToken struct {
	// Key is the config key of its id (bos_token_id, cls_token_id).
	Key string
	// Default is the id when the config has none and the vocabulary is larger
	// than it (BERT's [CLS] is 101 in the standard vocabularies); -1: none.
	Default int
	// Text is the token's text, looked up in the tokenizer's vocabulary when
	// one is at hand ("[CLS]"); "" when the id says it all.
	Text string
}

// Constraints are shapes that transformers' configuration class refuses
// beyond what the features imply (Derived head widths already imply that heads
// divide hidden and that there are as many key/value heads as heads).
type Constraints struct {
	// HeadsDivideHidden: hidden % heads must be 0 even with an explicit
	// head_dim (LlamaConfig checks it for model_type llama; MistralConfig and
	// Qwen2Config do not).
	HeadsDivideHidden bool
}

// Tensors are a family's tensor names: the names before the layers, a
// per-layer template and the names after, each with the graph roles it holds
// and how it stores them, and the extra tensors with their rules. Every name
// is relative to the backbone prefix unless the tensor is Global.
type Tensors struct {
	// Prefixes are the backbone prefixes a checkpoint may use, the default
	// first ("transformer." and "" for GPT-2).
	Prefixes []string
	// Embed is the token embedding's name; the prefix under which it is found
	// is the checkpoint's.
	Embed string
	// Base is how a base model (one without an output head) is recognised.
	Base Base
	// BasePrefix is the backbone prefix of a base model's names (OPTModel's
	// "decoder."; "" for most families).
	BasePrefix string
	// BaseArchitectures are the architectures of base models, written
	// without a prefix (GPT2Model).
	BaseArchitectures []string
	// Head is the output head's name (Global): absent, or equal to the
	// embedding, when tie_word_embeddings is true.
	Head string
	// Layer is the per-layer prefix, with %d for the layer index ("h.%d.").
	Layer string
	// Top, PerLayer and Bottom are the tensors before, in (relative to Layer)
	// and after the layers, in the order a checkpoint is written.
	Top, PerLayer, Bottom []Tensor
	// Extras are the tensors that are no role, with their rules.
	Extras []Extra
}

// Base is how a checkpoint without an output head is recognised.
type Base string

// Base-model rules.
const (
	// BaseByArchitecture: its architectures list a BaseArchitectures entry.
	BaseByArchitecture Base = "architecture"
	// BaseByPrefix: its names have the base model's prefix
	// (Tensors.BasePrefix, usually none).
	BaseByPrefix Base = "prefix"
	// BaseByHeadTensors: none of the optional head's tensors (WhenHead,
	// WhenMLM) is present (BERT without its masked-LM head).
	BaseByHeadTensors Base = "head-tensors"
)

// Storage is how a checkpoint tensor holds its graph tensors, which are
// matrices [out, in] and vectors.
type Storage string

// Storages.
const (
	// Plain (the zero value): the tensor is its one role as the graph sees it.
	Plain Storage = ""
	// Conv1D: a matrix stored transposed, [in, out] (GPT-2's Conv1D).
	Conv1D Storage = "conv1d"
	// FusedConv1D: several Conv1D matrices side by side, [in, Σ outᵢ]
	// (GPT-2's c_attn).
	FusedConv1D Storage = "fused-conv1d"
	// FusedRows: several parts stacked along the first axis, [Σ nᵢ, ...]
	// (GPT-2's c_attn bias).
	FusedRows Storage = "fused-rows"
	// FusedHeads: several parts interleaved per key/value head along the
	// first axis: for each of the graph's KVHeads units, the unit's rows of
	// every part in turn (GPT-NeoX's query_key_value, viewed [heads, 3,
	// head_dim, ...]).
	FusedHeads Storage = "fused-heads"
)

// When says when an optional tensor is present.
type When string

// Conditions.
const (
	Always      When = ""
	WhenHead    When = "head"     // an untied output head is written
	WhenMLM     When = "mlm"      // the model has its masked-LM head (Features.MLMHead)
	WhenQKVBias When = "qkv-bias" // Biases.QKV says so
	WhenOBias   When = "o-bias"   // Biases.O says so
	WhenMLPBias When = "mlp-bias" // Biases.MLP says so
)

// Tensor is one checkpoint tensor of a family.
type Tensor struct {
	// Name is the tensor's name relative to the backbone prefix (and, in
	// PerLayer, to the layer's prefix), or its whole name when Global.
	Name string
	// Alt is a legacy spelling accepted on read (LayerNorm.gamma), or "".
	Alt string
	// AltTiedCopy: Alt may also appear beside Name, as a parameter
	// transformers ties to it; it must then equal Name and is dropped
	// (BERT's cls.predictions.decoder.bias).
	AltTiedCopy bool
	Stored      Storage
	// Roles are the graph roles it holds, one per part: "embed",
	// "attn.q.weight" (per layer, without "layers.i."), "final_norm.bias".
	Roles []string
	When  When
	// Global: Name is not under the backbone prefix (lm_head.weight).
	Global bool
	// Copy: a second name under which the tensor of Roles[0] is written (it
	// is no role of its own, and it is not read).
	Copy bool
}

// Extra rules (graph.Extra.Rule).
const (
	RuleHidden = "hidden" // a [D] vector, or a matrix whose axes of size D are hidden axes
	RuleCopy   = "copy"   // kept as it is
	RuleDrop   = "drop"   // not written
)

// Extra matches tensors that are no role of the graph.
type Extra struct {
	// Pattern is a regular expression for the whole name after the backbone
	// prefix (the whole name when Global); a submatch is a layer index, and a
	// tensor of a layer beyond the config's is no match.
	Pattern string
	Global  bool
	// Role says what the tensor is, e.g. "bert.pooler.weight".
	Role string
	// Rule is RuleHidden, RuleCopy or RuleDrop.
	Rule string
	// Shape is the expected shape in dimension symbols, nil for any: the
	// hidden width D, the vocabulary V, the learned positions P, the token
	// types T, the FFN width I, the query width Hd (heads × head_dim), the
	// key/value width Kd; a number stands for itself.
	Shape []string
}

// registry holds the descriptors by model_type; order is the order they
// were registered in.
var (
	registry = map[string]*Descriptor{}
	order    []string
)

// register adds d to the registry. Descriptors are registered by the init
// functions of this package's files; a duplicate model_type is a programming
// error.
func register(d *Descriptor) {
	if _, dup := registry[d.ModelType]; dup {
		panic(fmt.Sprintf("family: model_type %q registered twice", d.ModelType))
	}
	registry[d.ModelType] = d
	order = append(order, d.ModelType)
}

// Lookup returns the descriptor of a model_type.
func Lookup(modelType string) (*Descriptor, bool) {
	d, ok := registry[modelType]
	return d, ok
}

// ModelTypes returns the registered model types, sorted.
func ModelTypes() []string {
	return slices.Sorted(slices.Values(order))
}

// Known lists the registered model types for messages: "bert, gpt2, ...".
func Known() string { return strings.Join(ModelTypes(), ", ") }

// Legend maps each dimension symbol to the config keys that imply it, for
// messages: "D" → "hidden_size", "Hd" → "num_attention_heads×head_dim".
func (d *Descriptor) Legend() map[string]string {
	c := d.Config
	first := func(keys []string) string {
		if len(keys) == 0 {
			return ""
		}
		return keys[0]
	}
	m := map[string]string{}
	for sym, keys := range map[string][]string{"D": c.Hidden, "V": c.Vocab, "I": c.FFN, "T": c.TypeVocab} {
		if k := first(keys); k != "" {
			m[sym] = k
		}
	}
	if d.Features.Positions == Learned {
		m["P"] = first(c.Positions)
	}
	if d.Features.HeadDim == Derived {
		m["Hd"], m["Kd"] = first(c.Hidden), first(c.Hidden)
		m["d"] = first(c.Hidden) + "/" + first(c.Heads)
		if d.Features.GQA {
			m["Kd"] = first(c.KVHeads) + "×" + m["d"]
		}
	} else {
		m["Hd"] = first(c.Heads) + "×" + first(c.HeadDim)
		m["Kd"] = first(c.KVHeads) + "×" + first(c.HeadDim)
		m["d"] = first(c.HeadDim)
	}
	return m
}
