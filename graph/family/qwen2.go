package family

// Qwen2 (Qwen2ForCausalLM, Qwen2Model): LLaMA's tensor names and features
// with q, k and v biases always and no o or MLP biases; sliding-window
// attention only with use_sliding_window, from layer max_window_layers on.
// Qwen2Config does not require the heads to divide the hidden width.
var qwen2 = func() *Descriptor {
	d := *llama
	d.ModelType, d.Name, d.ConfigClass = "qwen2", "qwen2", "Qwen2Config"
	d.Config.AttentionBias, d.Config.MLPBias = "", ""
	d.Features.Biases = Biases{QKV: BiasAlways, O: BiasNever, MLP: BiasNever}
	d.Features.SlidingWindow = SlidingWindow{Key: "sliding_window", UseKey: "use_sliding_window", MaxLayersKey: "max_window_layers"}
	d.Constraints = Constraints{}
	d.Tensors = llamaTensors("Qwen2Model")
	return &d
}()

func init() { register(qwen2) }
