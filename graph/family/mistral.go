package family

// Mistral (MistralForCausalLM, MistralModel): LLaMA's tensor names and
// features without any bias, and sliding-window attention when the config
// sets sliding_window. MistralConfig does not require the heads to divide
// the hidden width.
var mistral = func() *Descriptor {
	d := *llama
	d.ModelType, d.Name, d.ConfigClass = "mistral", "mistral", "MistralConfig"
	d.Config.AttentionBias, d.Config.MLPBias = "", ""
	d.Features.Biases = Biases{QKV: BiasNever, O: BiasNever, MLP: BiasNever}
	d.Constraints = Constraints{}
	d.Tensors = llamaTensors("MistralModel")
	return &d
}()

func init() { register(mistral) }
