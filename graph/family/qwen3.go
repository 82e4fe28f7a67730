package family

import "slices"

// Qwen3 (Qwen3ForCausalLM, Qwen3Model): LLaMA's tensor names plus a norm of
// queries and keys per head (QK-norm), applied after the projections and
// before RoPE:
//
//	model.layers.i.self_attn.q_norm.weight [head_dim]   layers.i.attn.q_norm.weight
//	model.layers.i.self_attn.k_norm.weight [head_dim]   layers.i.attn.k_norm.weight
//
// attention_bias gives q, k, v and o biases; the MLP has none. head_dim is
// explicit and defaults to 128 (not hidden/heads); tie_word_embeddings
// defaults to false. Sliding-window attention as Qwen2: only with
// use_sliding_window, from layer max_window_layers on (or as layer_types
// says). Qwen3Config does not require the heads to divide the hidden width.
var qwen3 = func() *Descriptor {
	d := *llama
	d.ModelType, d.Name, d.ConfigClass = "qwen3", "qwen3", "Qwen3Config"
	d.Config.MLPBias = ""
	d.Config.HeadDimDefault = 128
	d.Config.PositionsDefault = 32768
	d.Features.QKNorm = true
	d.Features.Biases = Biases{QKV: BiasIfAttention, O: BiasIfAttention, MLP: BiasNever}
	d.Features.SlidingWindow = SlidingWindow{Key: "sliding_window", UseKey: "use_sliding_window", MaxLayersKey: "max_window_layers"}
	d.Constraints = Constraints{}
	d.Tensors = llamaTensors("Qwen3Model")
	// q_norm and k_norm follow o_proj, as Qwen3Attention registers them.
	at := slices.IndexFunc(d.Tensors.PerLayer, func(t Tensor) bool { return t.Name == "self_attn.o_proj.bias" }) + 1
	d.Tensors.PerLayer = slices.Insert(slices.Clone(d.Tensors.PerLayer), at,
		Tensor{Name: "self_attn.q_norm.weight", Roles: []string{"attn.q_norm.weight"}},
		Tensor{Name: "self_attn.k_norm.weight", Roles: []string{"attn.k_norm.weight"}})
	return &d
}()

func init() { register(qwen3) }
