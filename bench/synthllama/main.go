// Command synthllama writes a synthetic Llama-shaped checkpoint (random weights,
// config.json, no tokenizer) with checkpoint.WriteDir, for bench/convert.sh and
// bench/expand.sh (-layers 16: about 252M parameters). The
// default shape is about 1 GiB of F32 weights. Nothing it writes is committed.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"math"

	"github.com/grow-ml/grow/checkpoint"
)

func main() {
	out := flag.String("o", "", "output directory (must not exist)")
	hidden := flag.Int("hidden", 1024, "hidden size")
	heads := flag.Int("heads", 16, "attention heads")
	kvHeads := flag.Int("kv-heads", 8, "key/value heads")
	ffn := flag.Int("ffn", 2816, "intermediate size")
	layers := flag.Int("layers", 18, "layers")
	vocab := flag.Int("vocab", 32000, "vocabulary size")
	dtype := flag.String("dtype", "f32", "dtype of the weights (f32, f16, bf16)")
	shard := flag.String("max-shard-size", "5GB", "largest shard")
	flag.Parse()
	if *out == "" {
		log.Fatal("synthllama: -o is required")
	}
	dt, err := checkpoint.ParseDType(*dtype)
	if err != nil {
		log.Fatal(err)
	}
	maxShard, err := checkpoint.ParseSize(*shard)
	if err != nil {
		log.Fatal(err)
	}
	headDim := *hidden / *heads
	cfgJSON := fmt.Sprintf(`{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":%d,"intermediate_size":%d,`+
		`"num_hidden_layers":%d,"num_attention_heads":%d,"num_key_value_heads":%d,"head_dim":%d,"vocab_size":%d,`+
		`"max_position_embeddings":2048,"rms_norm_eps":1e-05,"hidden_act":"silu","rope_theta":10000.0,`+
		`"tie_word_embeddings":false,"torch_dtype":"float32","bos_token_id":1,"eos_token_id":2}`,
		*hidden, *ffn, *layers, *heads, *kvHeads, headDim, *vocab)
	cfg, err := checkpoint.ParseConfig([]byte(cfgJSON), "config.json")
	if err != nil {
		log.Fatal(err)
	}
	h, kv := *hidden, *kvHeads*headDim
	var es []checkpoint.Entry
	seed := uint64(1)
	add := func(name string, shape ...int) {
		seed++
		es = append(es, randomEntry(name, dt, shape, seed))
	}
	add("model.embed_tokens.weight", *vocab, h)
	for i := range *layers {
		p := fmt.Sprintf("model.layers.%d.", i)
		add(p+"input_layernorm.weight", h)
		add(p+"self_attn.q_proj.weight", h, h)
		add(p+"self_attn.k_proj.weight", kv, h)
		add(p+"self_attn.v_proj.weight", kv, h)
		add(p+"self_attn.o_proj.weight", h, h)
		add(p+"post_attention_layernorm.weight", h)
		add(p+"mlp.gate_proj.weight", *ffn, h)
		add(p+"mlp.up_proj.weight", *ffn, h)
		add(p+"mlp.down_proj.weight", h, *ffn)
	}
	add("model.norm.weight", h)
	add("lm_head.weight", *vocab, h)
	if err := checkpoint.WriteDir(*out, es, checkpoint.WriteOptions{MaxShardSize: maxShard, Config: cfg}); err != nil {
		log.Fatal(err)
	}
}

// randomEntry streams small random float values (|x| < 1/32) from a xorshift
// generator, in 1 MiB chunks.
func randomEntry(name string, dt checkpoint.DType, shape []int, seed uint64) checkpoint.Entry {
	return checkpoint.Entry{Name: name, DType: dt, Shape: shape, Write: func(w io.Writer) error {
		n := 1
		for _, d := range shape {
			n *= d
		}
		const chunk = 1 << 18
		vals := make([]float32, min(n, chunk))
		buf := make([]byte, len(vals)*dt.Size())
		x := seed*0x9e3779b97f4a7c15 | 1
		for done := 0; done < n; done += chunk {
			k := min(chunk, n-done)
			for i := range vals[:k] {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				bits := uint32(x)
				// sign, exponent in [2^-12, 2^-5), random mantissa
				v := bits&0x807fffff | (uint32(115)+uint32(x>>32)%7)<<23
				vals[i] = math.Float32frombits(v)
			}
			if err := checkpoint.EncodeFloat32(buf[:k*dt.Size()], vals[:k], dt); err != nil {
				return err
			}
			if _, err := w.Write(buf[:k*dt.Size()]); err != nil {
				return err
			}
		}
		return nil
	}}
}
