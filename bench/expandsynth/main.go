// Command expandsynth writes a synthetic Llama checkpoint (random float32 weights,
// no tokenizer) for bench/expand.sh. Default sizes give about 252M parameters:
// hidden 1024, 16 layers, 16 heads, 8 key/value heads, FFN 2816, vocab 32000,
// untied head.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/grow-ml/grow/checkpoint"
)

func main() {
	out := flag.String("o", "", "output directory")
	D := flag.Int("hidden", 1024, "hidden size")
	L := flag.Int("layers", 16, "layers")
	H := flag.Int("heads", 16, "query heads")
	K := flag.Int("kv-heads", 8, "key/value heads")
	I := flag.Int("ffn", 2816, "intermediate size")
	V := flag.Int("vocab", 32000, "vocabulary")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "expandsynth: -o DIR required")
		os.Exit(2)
	}
	d := *D / *H
	cfg := fmt.Sprintf(`{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":%d,
"num_hidden_layers":%d,"num_attention_heads":%d,"num_key_value_heads":%d,"head_dim":%d,"intermediate_size":%d,
"vocab_size":%d,"max_position_embeddings":2048,"rms_norm_eps":1e-5,"rope_theta":10000.0,"hidden_act":"silu",
"tie_word_embeddings":false,"torch_dtype":"float32","bos_token_id":1,"eos_token_id":2}`, *D, *L, *H, *K, d, *I, *V)
	c, err := checkpoint.ParseConfig([]byte(cfg), "config.json")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	state := uint64(0x9e3779b97f4a7c15)
	rnd := func(n int, scale float32) func() ([]float32, error) {
		return func() ([]float32, error) {
			v := make([]float32, n)
			for i := range v {
				state ^= state << 13
				state ^= state >> 7
				state ^= state << 17
				v[i] = (float32(state>>40)/float32(1<<24) - 0.5) * scale
			}
			return v, nil
		}
	}
	ones := func(n int) func() ([]float32, error) {
		return func() ([]float32, error) {
			v := make([]float32, n)
			for i := range v {
				v[i] = 1
			}
			return v, nil
		}
	}
	var es []checkpoint.Entry
	add := func(name string, data func() ([]float32, error), shape ...int) {
		es = append(es, checkpoint.Float32Entry(name, checkpoint.F32, shape, data))
	}
	add("model.embed_tokens.weight", rnd(*V**D, 0.1), *V, *D)
	for l := 0; l < *L; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"input_layernorm.weight", ones(*D), *D)
		add(p+"self_attn.q_proj.weight", rnd(*H*d**D, 0.06), *H*d, *D)
		add(p+"self_attn.k_proj.weight", rnd(*K*d**D, 0.06), *K*d, *D)
		add(p+"self_attn.v_proj.weight", rnd(*K*d**D, 0.06), *K*d, *D)
		add(p+"self_attn.o_proj.weight", rnd(*D**H*d, 0.06), *D, *H*d)
		add(p+"post_attention_layernorm.weight", ones(*D), *D)
		add(p+"mlp.gate_proj.weight", rnd(*I**D, 0.06), *I, *D)
		add(p+"mlp.up_proj.weight", rnd(*I**D, 0.06), *I, *D)
		add(p+"mlp.down_proj.weight", rnd(*D**I, 0.04), *D, *I)
	}
	add("model.norm.weight", ones(*D), *D)
	add("lm_head.weight", rnd(*V**D, 0.1), *V, *D)
	if err := checkpoint.WriteDir(*out, es, checkpoint.WriteOptions{Config: c, Force: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
