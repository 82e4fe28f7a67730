package family

// LLaMA (LlamaForCausalLM; LlamaModel without the "model." prefix and without
// a head). Mistral and Qwen2 share its names (mistral.go, qwen2.go):
//
//	model.embed_tokens.weight [V, D]                            embed
//	model.layers.i.input_layernorm.weight [D]                   layers.i.attn_norm.weight
//	model.layers.i.self_attn.q_proj.{weight [H·d, D], bias}     layers.i.attn.q
//	model.layers.i.self_attn.{k,v}_proj.{weight [K·d, D], bias} layers.i.attn.{k,v}
//	model.layers.i.self_attn.o_proj.{weight [D, H·d], bias}     layers.i.attn.o
//	model.layers.i.post_attention_layernorm.weight [D]          layers.i.mlp_norm.weight
//	model.layers.i.mlp.{gate,up}_proj.{weight [I, D], bias}     layers.i.mlp.{gate,up}
//	model.layers.i.mlp.down_proj.{weight [D, I], bias}          layers.i.mlp.down
//	model.norm.weight [D]                                       final_norm.weight
//	lm_head.weight [V, D]                                       head (absent or equal when tied)
//
// Biases: q, k, v and o with attention_bias, gate, up and down with mlp_bias.
// Extras: model.layers.i.self_attn.rotary_emb.inv_freq (an old RoPE buffer,
// rule "drop").
var llama = &Descriptor{
	ModelType:   "llama",
	Family:      "llama",
	Name:        "llama",
	ConfigClass: "LlamaConfig",
	Config: Config{
		Hidden:           []string{"hidden_size"},
		Layers:           []string{"num_hidden_layers"},
		Heads:            []string{"num_attention_heads"},
		KVHeads:          []string{"num_key_value_heads"},
		HeadDim:          []string{"head_dim"},
		FFN:              []string{"intermediate_size"},
		Vocab:            []string{"vocab_size"},
		Positions:        []string{"max_position_embeddings"},
		PositionsDefault: 2048,
		NormEps:          []string{"rms_norm_eps"},
		NormEpsDefault:   1e-6,
		Act:              []string{"hidden_act"},
		ActDefault:       "silu",
		AttentionBias:    "attention_bias",
		MLPBias:          "mlp_bias",
	},
	Features: Features{
		Norm:           RMSNorm,
		Causal:         true,
		Positions:      Rotary,
		RotaryFraction: 1,
		GatedMLP:       true,
		Biases:         Biases{QKV: BiasIfAttention, O: BiasIfAttention, MLP: BiasIfMLP},
		HeadDim:        Explicit,
		GQA:            true,
		SlidingWindow:  SlidingWindow{Key: "sliding_window"},
		Start:          StartToken{Key: "bos_token_id", Default: -1},
	},
	Constraints: Constraints{HeadsDivideHidden: true},
	Tensors:     llamaTensors("LlamaModel"),
}

// llamaTensors are the tensor names of the LLaMA family; base is the
// architecture of its base model.
func llamaTensors(base string) Tensors {
	return Tensors{
		Prefixes:          []string{"model.", ""},
		Embed:             "embed_tokens.weight",
		Base:              BaseByPrefix,
		BaseArchitectures: []string{base},
		Head:              "lm_head.weight",
		Layer:             "layers.%d.",
		Top:               []Tensor{{Name: "embed_tokens.weight", Roles: []string{"embed"}}},
		PerLayer: []Tensor{
			{Name: "input_layernorm.weight", Roles: []string{"attn_norm.weight"}},
			{Name: "self_attn.q_proj.weight", Roles: []string{"attn.q.weight"}},
			{Name: "self_attn.q_proj.bias", Roles: []string{"attn.q.bias"}, When: WhenQKVBias},
			{Name: "self_attn.k_proj.weight", Roles: []string{"attn.k.weight"}},
			{Name: "self_attn.k_proj.bias", Roles: []string{"attn.k.bias"}, When: WhenQKVBias},
			{Name: "self_attn.v_proj.weight", Roles: []string{"attn.v.weight"}},
			{Name: "self_attn.v_proj.bias", Roles: []string{"attn.v.bias"}, When: WhenQKVBias},
			{Name: "self_attn.o_proj.weight", Roles: []string{"attn.o.weight"}},
			{Name: "self_attn.o_proj.bias", Roles: []string{"attn.o.bias"}, When: WhenOBias},
			{Name: "post_attention_layernorm.weight", Roles: []string{"mlp_norm.weight"}},
			{Name: "mlp.gate_proj.weight", Roles: []string{"mlp.gate.weight"}},
			{Name: "mlp.gate_proj.bias", Roles: []string{"mlp.gate.bias"}, When: WhenMLPBias},
			{Name: "mlp.up_proj.weight", Roles: []string{"mlp.up.weight"}},
			{Name: "mlp.up_proj.bias", Roles: []string{"mlp.up.bias"}, When: WhenMLPBias},
			{Name: "mlp.down_proj.weight", Roles: []string{"mlp.down.weight"}},
			{Name: "mlp.down_proj.bias", Roles: []string{"mlp.down.bias"}, When: WhenMLPBias},
		},
		Bottom: []Tensor{
			{Name: "norm.weight", Roles: []string{"final_norm.weight"}},
			{Name: "lm_head.weight", Global: true, Roles: []string{"head"}, When: WhenHead},
		},
		Extras: []Extra{
			{Pattern: `layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq`, Role: "llama.rotary_inv_freq", Rule: RuleDrop},
		},
	}
}

func init() { register(llama) }
