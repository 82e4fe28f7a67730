package family

// OLMo-2 (Olmo2ForCausalLM, Olmo2Model): no norm before a sublayer; each
// sublayer reads the stream and its output is normalised before it is added
// (Features.BlockNorms NormsOut), and the queries and keys are normalised
// over their whole projections, before RoPE (Features.QKNormWhole):
//
//	model.embed_tokens.weight [V, D]                           embed
//	model.layers.i.self_attn.{q,k,v,o}_proj.{weight, bias}     layers.i.attn.{q,k,v,o}
//	model.layers.i.self_attn.q_norm.weight [H·d]               layers.i.attn.q_proj_norm.weight
//	model.layers.i.self_attn.k_norm.weight [K·d]               layers.i.attn.k_proj_norm.weight
//	model.layers.i.post_attention_layernorm.weight [D]         layers.i.attn_out_norm.weight
//	model.layers.i.mlp.{gate,up,down}_proj.weight              layers.i.mlp.{gate,up,down}
//	model.layers.i.post_feedforward_layernorm.weight [D]       layers.i.mlp_out_norm.weight
//	model.norm.weight [D]                                      final_norm.weight
//	lm_head.weight [V, D]                                      head (absent or equal when tied)
//
// A block is h += norm(o(attn(h))); h += norm(down(silu(gate(h)) ⊙ up(h))).
// head_dim is hidden/heads (Olmo2Config has no head_dim) with grouped-query
// attention; attention_bias gives q, k, v and o biases, the MLP has none;
// the head is untied by default. Extras:
// model.layers.i.self_attn.rotary_emb.inv_freq (an old RoPE buffer, dropped).
var olmo2 = &Descriptor{
	ModelType:   "olmo2",
	Family:      "olmo2",
	Name:        "OLMo-2",
	ConfigClass: "Olmo2Config",
	Config: Config{
		Hidden:           []string{"hidden_size"},
		Layers:           []string{"num_hidden_layers"},
		Heads:            []string{"num_attention_heads"},
		KVHeads:          []string{"num_key_value_heads"},
		FFN:              []string{"intermediate_size"},
		Vocab:            []string{"vocab_size"},
		Positions:        []string{"max_position_embeddings"},
		PositionsDefault: 2048,
		NormEps:          []string{"rms_norm_eps"},
		NormEpsDefault:   1e-5,
		Act:              []string{"hidden_act"},
		ActDefault:       "silu",
		AttentionBias:    "attention_bias",
	},
	Features: Features{
		Norm:           RMSNorm,
		BlockNorms:     NormsOut,
		Causal:         true,
		Positions:      Rotary,
		RotaryFraction: 1,
		GatedMLP:       true,
		QKNorm:         true,
		QKNormWhole:    true,
		Biases:         Biases{QKV: BiasIfAttention, O: BiasIfAttention, MLP: BiasNever},
		HeadDim:        Derived,
		GQA:            true,
		Start:          StartToken{Key: "bos_token_id", Default: -1},
	},
	Tensors: Tensors{
		Prefixes:          []string{"model.", ""},
		Embed:             "embed_tokens.weight",
		Base:              BaseByPrefix,
		BaseArchitectures: []string{"Olmo2Model"},
		Head:              "lm_head.weight",
		Layer:             "layers.%d.",
		Top:               []Tensor{{Name: "embed_tokens.weight", Roles: []string{"embed"}}},
		PerLayer: []Tensor{
			{Name: "self_attn.q_proj.weight", Roles: []string{"attn.q.weight"}},
			{Name: "self_attn.q_proj.bias", Roles: []string{"attn.q.bias"}, When: WhenQKVBias},
			{Name: "self_attn.k_proj.weight", Roles: []string{"attn.k.weight"}},
			{Name: "self_attn.k_proj.bias", Roles: []string{"attn.k.bias"}, When: WhenQKVBias},
			{Name: "self_attn.v_proj.weight", Roles: []string{"attn.v.weight"}},
			{Name: "self_attn.v_proj.bias", Roles: []string{"attn.v.bias"}, When: WhenQKVBias},
			{Name: "self_attn.o_proj.weight", Roles: []string{"attn.o.weight"}},
			{Name: "self_attn.o_proj.bias", Roles: []string{"attn.o.bias"}, When: WhenOBias},
			{Name: "self_attn.q_norm.weight", Roles: []string{"attn.q_proj_norm.weight"}},
			{Name: "self_attn.k_norm.weight", Roles: []string{"attn.k_proj_norm.weight"}},
			{Name: "mlp.gate_proj.weight", Roles: []string{"mlp.gate.weight"}},
			{Name: "mlp.up_proj.weight", Roles: []string{"mlp.up.weight"}},
			{Name: "mlp.down_proj.weight", Roles: []string{"mlp.down.weight"}},
			{Name: "post_attention_layernorm.weight", Roles: []string{"attn_out_norm.weight"}},
			{Name: "post_feedforward_layernorm.weight", Roles: []string{"mlp_out_norm.weight"}},
		},
		Bottom: []Tensor{
			{Name: "norm.weight", Roles: []string{"final_norm.weight"}},
			{Name: "lm_head.weight", Global: true, Roles: []string{"head"}, When: WhenHead},
		},
		Extras: []Extra{
			{Pattern: `layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq`, Role: "olmo2.rotary_inv_freq", Rule: RuleDrop},
		},
	},
}

func init() { register(olmo2) }
