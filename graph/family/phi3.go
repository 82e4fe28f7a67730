package family

// Phi-3 (Phi3ForCausalLM, Phi3Model): LLaMA's layout with the attention
// projections and the MLP's gate and up fused, each stored by rows:
//
//	model.embed_tokens.weight [V, D]                       embed
//	model.layers.i.input_layernorm.weight [D]              layers.i.attn_norm.weight
//	model.layers.i.self_attn.qkv_proj.weight [(H+2K)·d, D] layers.i.attn.{q,k,v}.weight (rows q | k | v)
//	model.layers.i.self_attn.o_proj.weight [D, H·d]        layers.i.attn.o.weight
//	model.layers.i.post_attention_layernorm.weight [D]     layers.i.mlp_norm.weight
//	model.layers.i.mlp.gate_up_proj.weight [2I, D]         layers.i.mlp.{gate,up}.weight (rows gate | up)
//	model.layers.i.mlp.down_proj.weight [D, I]             layers.i.mlp.down.weight
//	model.norm.weight [D]                                  final_norm.weight
//	lm_head.weight [V, D]                                  head (absent or equal when tied)
//
// No biases. head_dim is hidden/heads (Phi3Config has no head_dim) with
// grouped-query attention (num_key_value_heads). RoPE rotates the first
// int(head_dim × partial_rotary_factor) dims of each head (the key at the top
// level, or in rope_parameters; 1 when absent) and passes the rest through.
// Sliding-window attention when sliding_window is set. Extras:
// model.layers.i.self_attn.rotary_emb.inv_freq (an old RoPE buffer, dropped).
var phi3 = &Descriptor{
	ModelType:   "phi3",
	Family:      "llama",
	Name:        "Phi-3",
	ConfigClass: "Phi3Config",
	Config: Config{
		Hidden:           []string{"hidden_size"},
		Layers:           []string{"num_hidden_layers"},
		Heads:            []string{"num_attention_heads"},
		KVHeads:          []string{"num_key_value_heads"},
		FFN:              []string{"intermediate_size"},
		Vocab:            []string{"vocab_size"},
		Positions:        []string{"max_position_embeddings"},
		PositionsDefault: 4096,
		NormEps:          []string{"rms_norm_eps"},
		NormEpsDefault:   1e-5,
		Act:              []string{"hidden_act"},
		ActDefault:       "silu",
		RotaryFraction:   []string{"partial_rotary_factor"},
	},
	Features: Features{
		Norm:           RMSNorm,
		Causal:         true,
		Positions:      Rotary,
		RotaryFraction: 1,
		GatedMLP:       true,
		Biases:         Biases{QKV: BiasNever, O: BiasNever, MLP: BiasNever},
		HeadDim:        Derived,
		GQA:            true,
		SlidingWindow:  SlidingWindow{Key: "sliding_window"},
		Start:          StartToken{Key: "bos_token_id", Default: -1},
	},
	Tensors: Tensors{
		Prefixes:          []string{"model.", ""},
		Embed:             "embed_tokens.weight",
		Base:              BaseByPrefix,
		BaseArchitectures: []string{"Phi3Model"},
		Head:              "lm_head.weight",
		Layer:             "layers.%d.",
		Top:               []Tensor{{Name: "embed_tokens.weight", Roles: []string{"embed"}}},
		PerLayer: []Tensor{
			{Name: "input_layernorm.weight", Roles: []string{"attn_norm.weight"}},
			{Name: "self_attn.qkv_proj.weight", Stored: FusedRows, Roles: []string{"attn.q.weight", "attn.k.weight", "attn.v.weight"}},
			{Name: "self_attn.o_proj.weight", Roles: []string{"attn.o.weight"}},
			{Name: "post_attention_layernorm.weight", Roles: []string{"mlp_norm.weight"}},
			{Name: "mlp.gate_up_proj.weight", Stored: FusedRows, Roles: []string{"mlp.gate.weight", "mlp.up.weight"}},
			{Name: "mlp.down_proj.weight", Roles: []string{"mlp.down.weight"}},
		},
		Bottom: []Tensor{
			{Name: "norm.weight", Roles: []string{"final_norm.weight"}},
			{Name: "lm_head.weight", Global: true, Roles: []string{"head"}, When: WhenHead},
		},
		Extras: []Extra{
			{Pattern: `layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq`, Role: "phi3.rotary_inv_freq", Rule: RuleDrop},
		},
	},
}

func init() { register(phi3) }
