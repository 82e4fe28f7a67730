package graph_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/reference"
)

// The Gemma, GPT-NeoX, OPT and OLMo-2 layouts: every role is read back
// under the family's names from what was written (GPT-NeoX's
// query_key_value interleaved per head, OPT's position table with its two
// rows before position 0, OLMo-2's norms), and the graph writes the same
// bytes back, by copying the file's tensors and by re-fusing in-memory
// copies.
func TestFamilies2RoundTrip(t *testing.T) {
	for _, c := range []struct {
		name   string
		spec   reference.Spec
		family graph.Family
		names  map[string][]string // role → checkpoint name
	}{
		{"gemma", reference.Spec{ModelType: "gemma", D: 16, L: 2, H: 4, K: 2, HeadDim: 6, I: 24, V: 40, Tied: true}, "llama",
			map[string][]string{
				"layers.1.attn_norm.weight": {"model.layers.1.input_layernorm.weight"},
				"final_norm.weight":         {"model.norm.weight"},
			}},
		{"gpt_neox", reference.Spec{ModelType: "gpt_neox", D: 16, L: 2, H: 4, I: 24, V: 40, Bias: true}, "gpt_neox",
			map[string][]string{
				"embed":                  {"gpt_neox.embed_in.weight"},
				"layers.0.attn.q.weight": {"gpt_neox.layers.0.attention.query_key_value.weight"},
				"layers.0.attn.v.bias":   {"gpt_neox.layers.0.attention.query_key_value.bias"},
				"layers.1.attn.o.bias":   {"gpt_neox.layers.1.attention.dense.bias"},
				"layers.1.mlp_norm.bias": {"gpt_neox.layers.1.post_attention_layernorm.bias"},
				"final_norm.weight":      {"gpt_neox.final_layer_norm.weight"},
				"head":                   {"embed_out.weight"},
			}},
		{"gpt_neox-sequential-tied", reference.Spec{ModelType: "gpt_neox", D: 12, L: 1, H: 2, I: 20, V: 30, Tied: true, Sequential: true}, "gpt_neox",
			map[string][]string{"layers.0.attn.k.weight": {"gpt_neox.layers.0.attention.query_key_value.weight"}}},
		{"opt", reference.Spec{ModelType: "opt", D: 16, L: 2, H: 4, I: 24, V: 40, P: 20, Tied: true, Bias: true}, "opt",
			map[string][]string{
				"pos":                     {"model.decoder.embed_positions.weight"},
				"pos_pad":                 {"model.decoder.embed_positions.weight"},
				"layers.0.mlp_norm.bias":  {"model.decoder.layers.0.final_layer_norm.bias"},
				"layers.1.mlp.down.bias":  {"model.decoder.layers.1.fc2.bias"},
				"final_norm.weight":       {"model.decoder.final_layer_norm.weight"},
				"layers.0.attn_norm.bias": {"model.decoder.layers.0.self_attn_layer_norm.bias"},
			}},
		{"opt-untied-nobias", reference.Spec{ModelType: "opt", D: 12, L: 1, H: 3, I: 20, V: 30, P: 16}, "opt",
			map[string][]string{"head": {"lm_head.weight"}}},
		{"olmo2", reference.Spec{ModelType: "olmo2", D: 16, L: 2, H: 4, K: 2, I: 24, V: 40, Bias: true}, "olmo2",
			map[string][]string{
				"layers.0.attn.q_proj_norm.weight": {"model.layers.0.self_attn.q_norm.weight"},
				"layers.0.attn.k_proj_norm.weight": {"model.layers.0.self_attn.k_norm.weight"},
				"layers.1.attn_out_norm.weight":    {"model.layers.1.post_attention_layernorm.weight"},
				"layers.1.mlp_out_norm.weight":     {"model.layers.1.post_feedforward_layernorm.weight"},
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			roundTrip(t, c.spec, 5, c.family, c.names, "query_key_value", "embed_positions")
		})
	}
}

// GPT-NeoX's query_key_value holds, for each head h, its q rows, then its k
// rows, then its v rows ([H, 3, d] as transformers views it): the graph's q
// row h·d+j is stored row h·3d+j, k's h·3d+d+j, v's h·3d+2d+j, for the
// weight and the bias.
func TestNeoXQKVInterleavedPerHead(t *testing.T) {
	const D, H, d = 8, 2, 4
	src := reference.Synth(reference.Spec{ModelType: "gpt_neox", D: D, L: 1, H: H, I: 12, V: 10, F32: true, Bias: true, Seed: 1})
	dir := writeModel(t, src)
	ck, err := checkpoint.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	stored, _ := ck.Tensor("gpt_neox.layers.0.attention.query_key_value.weight")
	storedB, _ := ck.Tensor("gpt_neox.layers.0.attention.query_key_value.bias")
	w, err := stored.Float64()
	if err != nil {
		t.Fatal(err)
	}
	b, err := storedB.Float64()
	if err != nil {
		t.Fatal(err)
	}
	ly := src.Layers[0]
	for p, l := range []graph.Linear{ly.Q, ly.K, ly.V} {
		pw, pb := reference.Values(t, l.W), reference.Values(t, l.B)
		for h := range H {
			for j := range d {
				row := h*3*d + p*d + j
				if !slices.Equal(pw[(h*d+j)*D:(h*d+j+1)*D], w[row*D:(row+1)*D]) || pb[h*d+j] != b[row] {
					t.Fatalf("part %d head %d dim %d is not stored row %d", p, h, j, row)
				}
			}
		}
	}
}

// Configs as transformers v5 writes them and in v4's spelling (GPT-NeoX's
// rotary_emb_base and rotary_pct, Gemma's legacy hidden_act "gelu", read as
// the tanh GELU) keep every key through a read and a write.
func TestFamilies2ConfigKeys(t *testing.T) {
	for _, c := range []struct {
		name     string
		spec     reference.Spec
		act      string
		rot      int
		parallel bool
		cfg      string
	}{
		{"gpt_neox-v5", reference.Spec{ModelType: "gpt_neox", D: 32, L: 1, H: 4, I: 72, V: 150, Bias: true}, "gelu", 4, true, `{
  "architectures": ["GPTNeoXForCausalLM"], "attention_bias": true, "attention_dropout": 0.0, "bos_token_id": 1,
  "classifier_dropout": 0.1, "dtype": "float32", "eos_token_id": 2, "hidden_act": "gelu", "hidden_dropout": 0.0,
  "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 72, "is_decoder": false,
  "layer_norm_eps": 1e-05, "max_position_embeddings": 64, "model_type": "gpt_neox", "num_attention_heads": 4,
  "num_hidden_layers": 1, "pad_token_id": 0,
  "rope_parameters": {"partial_rotary_factor": 0.5, "rope_theta": 10000.0, "rope_type": "default"},
  "tie_word_embeddings": false, "transformers_version": "5.23.0", "use_cache": true,
  "use_parallel_residual": true, "vocab_size": 150}`},
		{"gpt_neox-v4", reference.Spec{ModelType: "gpt_neox", D: 32, L: 1, H: 4, I: 72, V: 150, Sequential: true}, "gelu", 2, false, `{
  "architectures": ["GPTNeoXForCausalLM"], "attention_bias": false, "bos_token_id": 0, "eos_token_id": 0,
  "hidden_act": "gelu", "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 72,
  "layer_norm_eps": 1e-05, "max_position_embeddings": 2048, "model_type": "gpt_neox", "num_attention_heads": 4,
  "num_hidden_layers": 1, "rotary_emb_base": 10000, "rotary_pct": 0.25, "tie_word_embeddings": false,
  "torch_dtype": "float16", "transformers_version": "4.24.0", "use_cache": true,
  "use_parallel_residual": false, "vocab_size": 150}`},
		{"gemma-v4", reference.Spec{ModelType: "gemma", D: 16, L: 1, H: 2, K: 1, HeadDim: 8, I: 24, V: 40, Tied: true}, "gelu_new", 8, false, `{
  "architectures": ["GemmaForCausalLM"], "attention_bias": false, "bos_token_id": 2, "eos_token_id": 1,
  "head_dim": 8, "hidden_act": "gelu", "hidden_size": 16, "initializer_range": 0.02,
  "intermediate_size": 24, "max_position_embeddings": 8192, "model_type": "gemma", "num_attention_heads": 2,
  "num_hidden_layers": 1, "num_key_value_heads": 1, "pad_token_id": 0, "rms_norm_eps": 1e-06,
  "rope_scaling": null, "rope_theta": 10000.0, "torch_dtype": "bfloat16", "transformers_version": "4.38.0.dev0",
  "vocab_size": 40}`},
		{"opt", reference.Spec{ModelType: "opt", D: 32, L: 1, H: 4, I: 72, V: 150, P: 64, Tied: true, Bias: true}, "relu", 0, false, `{
  "_remove_final_layer_norm": false, "activation_function": "relu", "architectures": ["OPTForCausalLM"],
  "attention_dropout": 0.0, "bos_token_id": 1, "do_layer_norm_before": true, "dropout": 0.1, "dtype": "float32",
  "enable_bias": true, "eos_token_id": 2, "ffn_dim": 72, "hidden_size": 32, "init_std": 0.02,
  "layer_norm_elementwise_affine": true, "layerdrop": 0.0, "max_position_embeddings": 64, "model_type": "opt",
  "num_attention_heads": 4, "num_hidden_layers": 1, "pad_token_id": 0, "tie_word_embeddings": true,
  "transformers_version": "5.23.0", "use_cache": true, "vocab_size": 150, "word_embed_proj_dim": 32}`},
		{"olmo2-v4", reference.Spec{ModelType: "olmo2", D: 32, L: 1, H: 4, K: 2, I: 72, V: 150}, "silu", 8, false, `{
  "architectures": ["Olmo2ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0, "bos_token_id": null,
  "eos_token_id": 100257, "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02,
  "intermediate_size": 72, "max_position_embeddings": 4096, "model_type": "olmo2", "num_attention_heads": 4,
  "num_hidden_layers": 1, "num_key_value_heads": 2, "pad_token_id": 100277, "rms_norm_eps": 1e-06,
  "rope_scaling": null, "rope_theta": 500000, "tie_word_embeddings": false, "torch_dtype": "float32",
  "transformers_version": "4.48.0.dev0", "use_cache": true, "vocab_size": 150}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.spec.F32 = true
			g := reference.Synth(c.spec)
			cfg, err := checkpoint.ParseConfig([]byte(c.cfg), "config.json")
			if err != nil {
				t.Fatal(err)
			}
			g.Config, g.Positions, g.Eps, g.RopeTheta, g.RotaryFraction = cfg, cfg.MaxPositions, cfg.NormEps, cfg.RopeTheta, cfg.RotaryFraction
			dir := writeModel(t, g)
			ck, err := checkpoint.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer ck.Close()
			back, err := graph.FromCheckpoint(ck)
			if err != nil {
				t.Fatal(err)
			}
			if back.RotaryDim() != c.rot || back.Act != c.act || back.ParallelResidual != c.parallel || back.Tied != g.Tied {
				t.Errorf("rotary dims %d, act %s, parallel %v, tied %v; want %d, %s, %v, %v", back.RotaryDim(), back.Act,
					back.ParallelResidual, back.Tied, c.rot, c.act, c.parallel, g.Tied)
			}
			var src, out map[string]any
			if err := json.Unmarshal([]byte(c.cfg), &src); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &out); err != nil {
				t.Fatal(err)
			}
			// The dtype is the weights' (F32 here); every other key as it was.
			for _, k := range []string{"dtype", "torch_dtype"} {
				if _, ok := src[k]; ok {
					src[k] = "float32"
				}
			}
			if !reflect.DeepEqual(src, out) {
				t.Errorf("config changed:\n%s", data)
			}
		})
	}
}

// The settings OPT computes one way only are refused with their key and
// what they mean; so are contradicting v4 and v5 spellings.
func TestFamilies2ConfigRefusals(t *testing.T) {
	base := `"model_type": "opt", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4, "ffn_dim": 72, "vocab_size": 150`
	neox := `"model_type": "gpt_neox", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4, "intermediate_size": 72, "vocab_size": 150`
	for _, c := range []struct{ cfg, want string }{
		{`{` + base + `, "do_layer_norm_before": false}`, `key "do_layer_norm_before": false: post-LN OPT`},
		{`{` + base + `, "word_embed_proj_dim": 16}`, `key "word_embed_proj_dim": 16: a word embedding width other than hidden_size (project_in and project_out`},
		{`{` + base + `, "layer_norm_elementwise_affine": false}`, `LayerNorms without gains`},
		{`{` + neox + `, "rotary_pct": 0.25, "rope_parameters": {"partial_rotary_factor": 0.5, "rope_theta": 10000.0}}`,
			`partial_rotary_factor 0.5 contradicts the top-level rotary_pct 0.25`},
		{`{` + neox + `, "rotary_emb_base": 10000, "rope_theta": 500}`, `key "rope_theta": 500 contradicts rotary_emb_base 10000`},
	} {
		_, err := checkpoint.ParseConfig([]byte(c.cfg), "config.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.cfg, err, c.want)
		}
	}
	// Absent, the settings take their supported defaults; null word_embed_proj_dim is the hidden size.
	for _, cfg := range []string{`{` + base + `}`, `{` + base + `, "word_embed_proj_dim": null, "do_layer_norm_before": true}`} {
		if _, err := checkpoint.ParseConfig([]byte(cfg), "config.json"); err != nil {
			t.Errorf("%s: %v", cfg, err)
		}
	}
}

// Gemma's embedding scale is sqrt(hidden_size) in the model's dtype:
// 45.25 for 2048 in BF16, as transformers computes it.
func TestEmbedNormalizer(t *testing.T) {
	for _, c := range []struct {
		hidden int
		dt     checkpoint.DType
		want   float64
	}{
		{2048, checkpoint.BF16, 45.25},
		{3072, checkpoint.BF16, 55.5},
		{2048, checkpoint.F32, float64(float32(math.Sqrt(2048)))},
		{2048, checkpoint.F64, math.Sqrt(2048)},
		{16, checkpoint.F16, 4},
	} {
		if got := graph.EmbedNormalizer(c.hidden, c.dt); got != c.want {
			t.Errorf("EmbedNormalizer(%d, %s) = %v, want %v", c.hidden, c.dt, got, c.want)
		}
	}
	g := reference.Synth(reference.Spec{ModelType: "gemma", D: 16, L: 1, H: 2, HeadDim: 8, I: 24, V: 40, F32: true})
	if s := g.EmbedScale(); s != 4 {
		t.Errorf("Gemma EmbedScale %v, want 4", s)
	}
	if s := reference.Synth(reference.Spec{ModelType: "llama", D: 16, L: 1, H: 2, I: 24, V: 40}).EmbedScale(); s != 1 {
		t.Errorf("LLaMA EmbedScale %v, want 1", s)
	}
}

// Base models without a head: OPTModel's names are under "decoder.",
// GPTNeoXModel's have no prefix; both are read back headless.
func TestFamilies2BaseModels(t *testing.T) {
	for _, c := range []struct {
		spec        reference.Spec
		arch, embed string
	}{
		{reference.Spec{ModelType: "opt", D: 16, L: 1, H: 4, I: 24, V: 40, P: 16, Tied: true}, "OPTModel", "decoder.embed_tokens.weight"},
		{reference.Spec{ModelType: "gpt_neox", D: 16, L: 1, H: 4, I: 24, V: 40}, "GPTNeoXModel", "embed_in.weight"},
	} {
		c.spec.F32 = true
		g := reference.Synth(c.spec)
		g.Config.Architectures = []string{c.arch}
		g.Head, g.Headless = nil, true
		dir := writeModel(t, g)
		ck, err := checkpoint.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ck.Tensor(c.embed); !ok {
			t.Errorf("%s: no tensor %q", c.arch, c.embed)
		}
		back, err := graph.FromCheckpoint(ck)
		if err != nil {
			t.Fatalf("%s: %v", c.arch, err)
		}
		if !back.Headless || back.Head != nil {
			t.Errorf("%s: read headless %v, head %v", c.arch, back.Headless, back.Head)
		}
		es, err := back.Entries("")
		if err != nil {
			t.Fatal(err)
		}
		sameAsFile(t, ck, es)
		ck.Close()
	}
}

// What grow inspect shows of each family.
func TestDistinctive(t *testing.T) {
	for _, c := range []struct {
		spec reference.Spec
		want []string
	}{
		{reference.Spec{ModelType: "llama", D: 16, L: 1, H: 2, I: 24, V: 40}, nil},
		{reference.Spec{ModelType: "gemma", D: 16, L: 1, H: 2, HeadDim: 8, I: 24, V: 40},
			[]string{"norm gains applied as 1 + w", "embeddings × sqrt(hidden_size) = 4"}},
		{reference.Spec{ModelType: "gpt_neox", D: 16, L: 1, H: 2, I: 24, V: 40},
			[]string{"attention and MLP in parallel on each block's input", "rotary positions on 2 of each head's 8 dims"}},
		{reference.Spec{ModelType: "opt", D: 16, L: 1, H: 2, I: 24, V: 40, P: 8},
			[]string{"learned positions offset by 2 (two rows before position 0)"}},
		{reference.Spec{ModelType: "olmo2", D: 16, L: 1, H: 2, I: 24, V: 40},
			[]string{"each sublayer's output normalised before it is added (no norm before a sublayer)",
				"queries and keys normalised over their whole projections"}},
		{reference.Spec{ModelType: "qwen3", D: 16, L: 1, H: 2, HeadDim: 8, I: 24, V: 40},
			[]string{"queries and keys normalised per head"}},
	} {
		if got := reference.Synth(c.spec).Distinctive(); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.spec.ModelType, got, c.want)
		}
	}
}
