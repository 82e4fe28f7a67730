package family

// OPT (OPTForCausalLM; OPTModel under "decoder." without a head), pre-LN:
//
//	model.decoder.embed_tokens.weight [V, D]                       embed
//	model.decoder.embed_positions.weight [2+P, D]                  pos_pad (rows 0, 1), pos (rows 2…)
//	model.decoder.layers.i.self_attn_layer_norm.{weight,bias} [D]  layers.i.attn_norm
//	model.decoder.layers.i.self_attn.{q,k,v}_proj.{weight [D, D], bias} layers.i.attn.{q,k,v}
//	model.decoder.layers.i.self_attn.out_proj.{weight [D, D], bias}     layers.i.attn.o
//	model.decoder.layers.i.final_layer_norm.{weight,bias} [D]      layers.i.mlp_norm
//	model.decoder.layers.i.fc1.{weight [I, D], bias}               layers.i.mlp.up
//	model.decoder.layers.i.fc2.{weight [D, I], bias}               layers.i.mlp.down
//	model.decoder.final_layer_norm.{weight,bias} [D]               final_norm
//	lm_head.weight [V, D]                                          head (absent or equal when tied)
//
// The learned positions are offset by 2 (OPTLearnedPositionalEmbedding):
// position p reads row p+2, so the graph's pos holds rows 2…P+1 and the two
// rows before it are the role pos_pad (a padded position, −1 in OPT's
// cumsum(mask) − 1 count, reads row 1). ReLU MLP; enable_bias (default
// true) gives every linear map its bias; the eps is nn.LayerNorm's 1e-5
// (the config has no key for it). Post-LN OPT (do_layer_norm_before false:
// opt-350m), a model without norm gains or the final norm, and a word
// embedding width other than the hidden size (project_in and project_out)
// are refused.
var opt = &Descriptor{
	ModelType:   "opt",
	Family:      "opt",
	Name:        "OPT",
	ConfigClass: "OPTConfig",
	Config: Config{
		Hidden:           []string{"hidden_size"},
		Layers:           []string{"num_hidden_layers"},
		Heads:            []string{"num_attention_heads"},
		FFN:              []string{"ffn_dim"},
		Vocab:            []string{"vocab_size"},
		Positions:        []string{"max_position_embeddings"},
		PositionsDefault: 2048,
		NormEpsDefault:   1e-5,
		Act:              []string{"activation_function"},
		ActDefault:       "relu",
		TiedDefault:      true,
		AttentionBias:    "enable_bias",
		MLPBias:          "enable_bias",
		BiasDefault:      true,
		WriteOnly:        []Alias{{Key: "word_embed_proj_dim", Value: ValueHidden}},
		Requires: []Require{
			{Key: "do_layer_norm_before", Want: true, Why: "post-LN OPT (opt-350m: the norms follow the residual additions) is not supported"},
			{Key: "_remove_final_layer_norm", Want: false, Why: "an OPT without its final LayerNorm is not supported"},
			{Key: "layer_norm_elementwise_affine", Want: true, Why: "LayerNorms without gains and biases are not supported"},
			{Key: "word_embed_proj_dim", EqualsHidden: true, Why: "a word embedding width other than hidden_size (project_in and project_out, opt-350m) is not supported"},
		},
	},
	Features: Features{
		Norm:              LayerNorm,
		Causal:            true,
		Positions:         Learned,
		PositionsFromMask: true,
		Biases:            Biases{QKV: BiasIfAttention, O: BiasIfAttention, MLP: BiasIfMLP},
		HeadDim:           Derived,
		Start:             StartToken{Key: "bos_token_id", Default: -1},
	},
	Tensors: Tensors{
		Prefixes:          []string{"model.decoder.", "decoder."},
		Embed:             "embed_tokens.weight",
		Base:              BaseByPrefix,
		BasePrefix:        "decoder.",
		BaseArchitectures: []string{"OPTModel"},
		Head:              "lm_head.weight",
		Layer:             "layers.%d.",
		Top: []Tensor{
			{Name: "embed_tokens.weight", Roles: []string{"embed"}},
			{Name: "embed_positions.weight", Stored: FusedRows, Roles: []string{"pos_pad", "pos"}},
		},
		PerLayer: []Tensor{
			{Name: "self_attn.k_proj.weight", Roles: []string{"attn.k.weight"}},
			{Name: "self_attn.k_proj.bias", Roles: []string{"attn.k.bias"}, When: WhenQKVBias},
			{Name: "self_attn.v_proj.weight", Roles: []string{"attn.v.weight"}},
			{Name: "self_attn.v_proj.bias", Roles: []string{"attn.v.bias"}, When: WhenQKVBias},
			{Name: "self_attn.q_proj.weight", Roles: []string{"attn.q.weight"}},
			{Name: "self_attn.q_proj.bias", Roles: []string{"attn.q.bias"}, When: WhenQKVBias},
			{Name: "self_attn.out_proj.weight", Roles: []string{"attn.o.weight"}},
			{Name: "self_attn.out_proj.bias", Roles: []string{"attn.o.bias"}, When: WhenOBias},
			{Name: "self_attn_layer_norm.weight", Roles: []string{"attn_norm.weight"}},
			{Name: "self_attn_layer_norm.bias", Roles: []string{"attn_norm.bias"}},
			{Name: "fc1.weight", Roles: []string{"mlp.up.weight"}},
			{Name: "fc1.bias", Roles: []string{"mlp.up.bias"}, When: WhenMLPBias},
			{Name: "fc2.weight", Roles: []string{"mlp.down.weight"}},
			{Name: "fc2.bias", Roles: []string{"mlp.down.bias"}, When: WhenMLPBias},
			{Name: "final_layer_norm.weight", Roles: []string{"mlp_norm.weight"}},
			{Name: "final_layer_norm.bias", Roles: []string{"mlp_norm.bias"}},
		},
		Bottom: []Tensor{
			{Name: "final_layer_norm.weight", Roles: []string{"final_norm.weight"}},
			{Name: "final_layer_norm.bias", Roles: []string{"final_norm.bias"}},
			{Name: "lm_head.weight", Global: true, Roles: []string{"head"}, When: WhenHead},
		},
	},
}

func init() { register(opt) }
