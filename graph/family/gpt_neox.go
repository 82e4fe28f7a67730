package family

// GPT-NeoX (GPTNeoXForCausalLM, GPTNeoXModel; the Pythia models), names with
// or without the "gpt_neox." prefix:
//
//	gpt_neox.embed_in.weight [V, D]                          embed
//	gpt_neox.layers.i.input_layernorm.{weight,bias} [D]      layers.i.attn_norm
//	gpt_neox.layers.i.attention.query_key_value.weight [3D, D] layers.i.attn.{q,k,v}.weight (per head)
//	gpt_neox.layers.i.attention.query_key_value.bias [3D]    layers.i.attn.{q,k,v}.bias (per head)
//	gpt_neox.layers.i.attention.dense.{weight [D, D], bias}  layers.i.attn.o
//	gpt_neox.layers.i.post_attention_layernorm.{weight,bias} layers.i.mlp_norm
//	gpt_neox.layers.i.mlp.dense_h_to_4h.{weight [I, D], bias} layers.i.mlp.up
//	gpt_neox.layers.i.mlp.dense_4h_to_h.{weight [D, I], bias} layers.i.mlp.down
//	gpt_neox.final_layer_norm.{weight,bias} [D]              final_norm
//	embed_out.weight [V, D]                                  head (untied by default)
//
// query_key_value interleaves q, k and v per head: its rows are [H, 3, d],
// head h's q rows come first, then its k and v rows (FusedHeads). With
// use_parallel_residual (the default) a block is h + attn(ln1(h)) +
// mlp(ln2(h)), both sublayers reading the block's input; without it, LLaMA's
// sequential pre-LN block. RoPE rotates the first int(d × rotary_pct) dims
// of each head (0.25 by default; the v5 rope_parameters'
// partial_rotary_factor), its base is rotary_emb_base (v4) or
// rope_parameters' rope_theta. attention_bias (default true) gives
// query_key_value and dense their biases; the MLP always has them. Extras:
// layers.i.attention.bias and masked_bias (causal-mask buffers of old
// checkpoints) and layers.i.attention.rotary_emb.inv_freq, dropped.
var gptNeoX = &Descriptor{
	ModelType:   "gpt_neox",
	Family:      "gpt_neox",
	Name:        "GPT-NeoX",
	ConfigClass: "GPTNeoXConfig",
	Config: Config{
		Hidden:                  []string{"hidden_size"},
		Layers:                  []string{"num_hidden_layers"},
		Heads:                   []string{"num_attention_heads"},
		FFN:                     []string{"intermediate_size"},
		Vocab:                   []string{"vocab_size"},
		Positions:               []string{"max_position_embeddings"},
		PositionsDefault:        2048,
		NormEps:                 []string{"layer_norm_eps"},
		NormEpsDefault:          1e-5,
		Act:                     []string{"hidden_act"},
		ActDefault:              "gelu",
		RotaryFraction:          []string{"rotary_pct", "partial_rotary_factor"},
		RopeTheta:               []string{"rotary_emb_base", "rope_theta"},
		AttentionBias:           "attention_bias",
		BiasDefault:             true,
		ParallelResidual:        "use_parallel_residual",
		ParallelResidualDefault: true,
	},
	Features: Features{
		Norm:           LayerNorm,
		Causal:         true,
		Positions:      Rotary,
		RotaryFraction: 0.25,
		Biases:         Biases{QKV: BiasIfAttention, O: BiasIfAttention, MLP: BiasAlways},
		HeadDim:        Derived,
		Start:          StartToken{Key: "bos_token_id", Default: -1},
	},
	Tensors: Tensors{
		Prefixes:          []string{"gpt_neox.", ""},
		Embed:             "embed_in.weight",
		Base:              BaseByPrefix,
		BaseArchitectures: []string{"GPTNeoXModel"},
		Head:              "embed_out.weight",
		Layer:             "layers.%d.",
		Top:               []Tensor{{Name: "embed_in.weight", Roles: []string{"embed"}}},
		PerLayer: []Tensor{
			{Name: "input_layernorm.weight", Roles: []string{"attn_norm.weight"}},
			{Name: "input_layernorm.bias", Roles: []string{"attn_norm.bias"}},
			{Name: "post_attention_layernorm.weight", Roles: []string{"mlp_norm.weight"}},
			{Name: "post_attention_layernorm.bias", Roles: []string{"mlp_norm.bias"}},
			{Name: "attention.query_key_value.weight", Stored: FusedHeads, Roles: []string{"attn.q.weight", "attn.k.weight", "attn.v.weight"}},
			{Name: "attention.query_key_value.bias", Stored: FusedHeads, Roles: []string{"attn.q.bias", "attn.k.bias", "attn.v.bias"}, When: WhenQKVBias},
			{Name: "attention.dense.weight", Roles: []string{"attn.o.weight"}},
			{Name: "attention.dense.bias", Roles: []string{"attn.o.bias"}, When: WhenOBias},
			{Name: "mlp.dense_h_to_4h.weight", Roles: []string{"mlp.up.weight"}},
			{Name: "mlp.dense_h_to_4h.bias", Roles: []string{"mlp.up.bias"}},
			{Name: "mlp.dense_4h_to_h.weight", Roles: []string{"mlp.down.weight"}},
			{Name: "mlp.dense_4h_to_h.bias", Roles: []string{"mlp.down.bias"}},
		},
		Bottom: []Tensor{
			{Name: "final_layer_norm.weight", Roles: []string{"final_norm.weight"}},
			{Name: "final_layer_norm.bias", Roles: []string{"final_norm.bias"}},
			{Name: "embed_out.weight", Global: true, Roles: []string{"head"}, When: WhenHead},
		},
		Extras: []Extra{
			{Pattern: `layers\.(\d+)\.attention\.bias`, Role: "gpt_neox.attn.mask", Rule: RuleDrop},
			{Pattern: `layers\.(\d+)\.attention\.masked_bias`, Role: "gpt_neox.attn.masked_bias", Rule: RuleDrop},
			{Pattern: `layers\.(\d+)\.attention\.rotary_emb\.inv_freq`, Role: "gpt_neox.rotary_inv_freq", Rule: RuleDrop},
		},
	},
}

func init() { register(gptNeoX) }
