package family

// Gemma (GemmaForCausalLM, GemmaModel): LLaMA's tensor names (llama.go) with
// three differences in what they compute:
//
//   - the token embeddings are multiplied by sqrt(hidden_size), rounded to
//     the model's dtype (GemmaTextScaledWordEmbedding), Features.EmbedScale;
//   - every RMSNorm multiplies by (1 + w), w the stored gain
//     (GemmaRMSNorm, gains initialised at 0), Features.NormPlusOne;
//   - the MLP is GeGLU with the tanh GELU (gelu_pytorch_tanh; GemmaConfig
//     reads a legacy hidden_act "gelu" as the tanh one).
//
// head_dim is explicit (GemmaConfig's default 256) and need not be
// hidden/heads; num_key_value_heads gives grouped or multi-query attention;
// attention_bias gives q, k, v and o biases, the MLP has none. The head is
// tied by default. Extras: model.layers.i.self_attn.rotary_emb.inv_freq (an
// old RoPE buffer, dropped).
var gemma = &Descriptor{
	ModelType:   "gemma",
	Family:      "llama",
	Name:        "Gemma",
	ConfigClass: "GemmaConfig",
	Config: Config{
		Hidden:           []string{"hidden_size"},
		Layers:           []string{"num_hidden_layers"},
		Heads:            []string{"num_attention_heads"},
		KVHeads:          []string{"num_key_value_heads"},
		HeadDim:          []string{"head_dim"},
		HeadDimDefault:   256,
		FFN:              []string{"intermediate_size"},
		Vocab:            []string{"vocab_size"},
		Positions:        []string{"max_position_embeddings"},
		PositionsDefault: 8192,
		NormEps:          []string{"rms_norm_eps"},
		NormEpsDefault:   1e-6,
		Act:              []string{"hidden_act"},
		ActDefault:       "gelu_pytorch_tanh",
		ActAliases:       map[string]string{"gelu": "gelu_pytorch_tanh"},
		TiedDefault:      true,
		AttentionBias:    "attention_bias",
	},
	Features: Features{
		Norm:           RMSNorm,
		NormPlusOne:    true,
		EmbedScale:     true,
		Causal:         true,
		Positions:      Rotary,
		RotaryFraction: 1,
		GatedMLP:       true,
		Biases:         Biases{QKV: BiasIfAttention, O: BiasIfAttention, MLP: BiasNever},
		HeadDim:        Explicit,
		GQA:            true,
		Start:          StartToken{Key: "bos_token_id", Default: -1},
	},
	Tensors: func() Tensors {
		t := llamaTensors("GemmaModel")
		t.Extras = []Extra{{Pattern: `layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq`, Role: "gemma.rotary_inv_freq", Rule: RuleDrop}}
		return t
	}(),
}

func init() { register(gemma) }
