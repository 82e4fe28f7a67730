package family

// GPT-2 (GPT2LMHeadModel, GPT2Model), names with or without the "transformer."
// prefix (GPT2LMHeadModel.save_pretrained writes it; the original files do
// not):
//
//	wte.weight [V, D]                      embed
//	wpe.weight [P, D]                      pos
//	h.i.ln_1.{weight,bias} [D]             layers.i.attn_norm
//	h.i.attn.c_attn.weight [D, 3D]         layers.i.attn.{q,k,v}.weight (Conv1D, fused)
//	h.i.attn.c_attn.bias [3D]              layers.i.attn.{q,k,v}.bias
//	h.i.attn.c_proj.{weight [D, D], bias}  layers.i.attn.o (Conv1D)
//	h.i.ln_2.{weight,bias} [D]             layers.i.mlp_norm
//	h.i.mlp.c_fc.{weight [D, I], bias}     layers.i.mlp.up (Conv1D)
//	h.i.mlp.c_proj.{weight [I, D], bias}   layers.i.mlp.down (Conv1D)
//	ln_f.{weight,bias} [D]                 final_norm
//	lm_head.weight [V, D]                  head (absent or equal to wte when tied)
//
// transformers' Conv1D stores its weight [in, out] and computes x·W + b; the
// fused c_attn holds q, k and v side by side along its out axis.
//
// Extras: h.i.attn.bias and h.i.attn.masked_bias (causal-mask buffers of old
// checkpoints, rule "drop": transformers no longer loads them).
var gpt2 = &Descriptor{
	ModelType:   "gpt2",
	Family:      "gpt2",
	Name:        "GPT-2",
	ConfigClass: "GPT2Config",
	Config: Config{
		// GPT2Config's attribute_map accepts the common spellings as aliases.
		Hidden:           []string{"n_embd", "hidden_size"},
		Layers:           []string{"n_layer", "num_hidden_layers"},
		Heads:            []string{"n_head", "num_attention_heads"},
		FFN:              []string{"n_inner"},
		FFNPerHidden:     4,
		Vocab:            []string{"vocab_size"},
		Positions:        []string{"n_positions", "max_position_embeddings"},
		PositionsDefault: 1024,
		NormEps:          []string{"layer_norm_epsilon"},
		NormEpsDefault:   1e-5,
		Act:              []string{"activation_function"},
		ActDefault:       "gelu_new",
		TiedDefault:      true,
		WriteOnly:        []Alias{{Key: "n_ctx", Value: ValuePositions}},
	},
	Features: Features{
		Norm:          LayerNorm,
		Causal:        true,
		Positions:     Learned,
		Biases:        Biases{QKV: BiasAlways, O: BiasAlways, MLP: BiasAlways},
		HeadDim:       Derived,
		AttnScaleKeys: true,
		Start:         StartToken{Key: "bos_token_id", Default: -1},
	},
	Tensors: Tensors{
		Prefixes:          []string{"transformer.", ""},
		Embed:             "wte.weight",
		Base:              BaseByArchitecture,
		BaseArchitectures: []string{"GPT2Model"},
		Head:              "lm_head.weight",
		Layer:             "h.%d.",
		Top: []Tensor{
			{Name: "wte.weight", Roles: []string{"embed"}},
			{Name: "wpe.weight", Roles: []string{"pos"}},
		},
		PerLayer: []Tensor{
			{Name: "ln_1.weight", Roles: []string{"attn_norm.weight"}},
			{Name: "ln_1.bias", Roles: []string{"attn_norm.bias"}},
			{Name: "attn.c_attn.weight", Stored: FusedConv1D, Roles: []string{"attn.q.weight", "attn.k.weight", "attn.v.weight"}},
			{Name: "attn.c_attn.bias", Stored: FusedRows, Roles: []string{"attn.q.bias", "attn.k.bias", "attn.v.bias"}},
			{Name: "attn.c_proj.weight", Stored: Conv1D, Roles: []string{"attn.o.weight"}},
			{Name: "attn.c_proj.bias", Roles: []string{"attn.o.bias"}},
			{Name: "ln_2.weight", Roles: []string{"mlp_norm.weight"}},
			{Name: "ln_2.bias", Roles: []string{"mlp_norm.bias"}},
			{Name: "mlp.c_fc.weight", Stored: Conv1D, Roles: []string{"mlp.up.weight"}},
			{Name: "mlp.c_fc.bias", Roles: []string{"mlp.up.bias"}},
			{Name: "mlp.c_proj.weight", Stored: Conv1D, Roles: []string{"mlp.down.weight"}},
			{Name: "mlp.c_proj.bias", Roles: []string{"mlp.down.bias"}},
		},
		Bottom: []Tensor{
			{Name: "ln_f.weight", Roles: []string{"final_norm.weight"}},
			{Name: "ln_f.bias", Roles: []string{"final_norm.bias"}},
			{Name: "lm_head.weight", Global: true, Roles: []string{"head"}, When: WhenHead},
		},
		Extras: []Extra{
			{Pattern: `h\.(\d+)\.attn\.bias`, Role: "gpt2.attn.mask", Rule: RuleDrop},
			{Pattern: `h\.(\d+)\.attn\.masked_bias`, Role: "gpt2.attn.masked_bias", Rule: RuleDrop},
		},
	},
}

func init() { register(gpt2) }
