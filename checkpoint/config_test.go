package checkpoint

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseConfigTestdata(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want Config
	}{
		{"stories260k", Config{ModelType: "llama", Architectures: []string{"LlamaForCausalLM"},
			Hidden: 64, Layers: 5, Heads: 8, KVHeads: 4, HeadDim: 8, FFN: 172, Vocab: 512, MaxPositions: 512,
			NormEps: 1e-5, Act: "silu", Tied: true, RopeTheta: 10000, RotaryFraction: 1, DType: "float32"}},
		{"gpt2-random-realtok", Config{ModelType: "gpt2", Architectures: []string{"GPT2LMHeadModel"},
			Hidden: 2, Layers: 1, Heads: 1, KVHeads: 1, HeadDim: 2, FFN: 8, Vocab: 50257, MaxPositions: 1024,
			NormEps: 1e-5, Act: "gelu_new", Tied: true, AttentionBias: true, MLPBias: true, DType: "float32"}},
		{"gpt2-random-toyvocab", Config{ModelType: "gpt2", Architectures: []string{"GPT2Model"},
			Hidden: 2, Layers: 1, Heads: 1, KVHeads: 1, HeadDim: 2, FFN: 8, Vocab: 21, MaxPositions: 1024,
			NormEps: 1e-5, Act: "gelu_new", Tied: true, AttentionBias: true, MLPBias: true, DType: "float32"}},
		{"bert-random-realtok", Config{ModelType: "bert", Architectures: []string{"BertLMHeadModel"},
			Hidden: 4, Layers: 1, Heads: 1, KVHeads: 1, HeadDim: 4, FFN: 8, Vocab: 30522, MaxPositions: 512,
			TypeVocab: 2, NormEps: 1e-12, Act: "gelu", Tied: true, AttentionBias: true, MLPBias: true, DType: "float32"}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			name := filepath.Join("..", "testdata", tc.dir, "config.json")
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			c, err := ParseConfig(data, name)
			if err != nil {
				t.Fatal(err)
			}
			got := *c
			got.raw, got.orig, got.Name = nil, nil, ""
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			// Marshal then parse again gives the same typed view, and every key of
			// the source survives with an equal value.
			out, err := c.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			c2, err := ParseConfig(out, "again")
			if err != nil {
				t.Fatalf("re-parse: %v\n%s", err, out)
			}
			got2 := *c2
			got2.raw, got2.orig, got2.Name = nil, nil, ""
			if !reflect.DeepEqual(got2, tc.want) {
				t.Errorf("after Marshal got %+v", got2)
			}
			var src, dst map[string]any
			if err := json.Unmarshal(data, &src); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out, &dst); err != nil {
				t.Fatal(err)
			}
			for k, v := range src {
				if k == "n_inner" && v == nil { // written explicitly
					if dst[k] != float64(4*tc.want.Hidden) {
						t.Errorf("n_inner = %v, want %d", dst[k], 4*tc.want.Hidden)
					}
					continue
				}
				if !reflect.DeepEqual(dst[k], v) {
					t.Errorf("key %q: %v became %v", k, v, dst[k])
				}
			}
		})
	}
}

// llamaJSON is a minimal valid llama config the error cases edit.
const llamaJSON = `{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
 "num_attention_heads": 8, "num_key_value_heads": 4, "intermediate_size": 172, "vocab_size": 512}`

const gpt2JSON = `{"model_type": "gpt2", "n_embd": 8, "n_layer": 2, "n_head": 2, "vocab_size": 50, "n_inner": null}`

const bertJSON = `{"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
 "intermediate_size": 16, "vocab_size": 30}`

// edit returns base with keys set (nil value: deleted).
func edit(t *testing.T, base string, set map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		if v == nil {
			delete(m, k)
		} else if v == "null" {
			m[k] = nil
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want []string // substrings of the error
	}{
		{"not json", []byte(`{"model_type": `), []string{"cfg.json", "JSON"}},
		{"array", []byte(`[1, 2]`), []string{"cfg.json", "JSON object"}},
		{"null", []byte(`null`), []string{"cfg.json", "JSON object"}},
		{"missing model_type", edit(t, llamaJSON, map[string]any{"model_type": nil}), []string{`"model_type"`, "missing"}},
		{"model_type number", edit(t, llamaJSON, map[string]any{"model_type": 3}), []string{`"model_type"`, "string"}},
		{"unknown model_type", edit(t, llamaJSON, map[string]any{"model_type": "t5"}), []string{`"model_type"`, `"t5"`}},
		{"llama missing hidden", edit(t, llamaJSON, map[string]any{"hidden_size": nil}), []string{`"hidden_size"`, "missing"}},
		{"llama missing layers", edit(t, llamaJSON, map[string]any{"num_hidden_layers": nil}), []string{`"num_hidden_layers"`, "missing"}},
		{"llama missing ffn", edit(t, llamaJSON, map[string]any{"intermediate_size": nil}), []string{`"intermediate_size"`}},
		{"llama missing vocab", edit(t, llamaJSON, map[string]any{"vocab_size": nil}), []string{`"vocab_size"`}},
		{"llama null heads", edit(t, llamaJSON, map[string]any{"num_attention_heads": "null"}), []string{`"num_attention_heads"`, "missing"}},
		{"llama zero hidden", edit(t, llamaJSON, map[string]any{"hidden_size": 0}), []string{`"hidden_size"`, "positive"}},
		{"llama negative layers", edit(t, llamaJSON, map[string]any{"num_hidden_layers": -2}), []string{`"num_hidden_layers"`, "positive"}},
		{"llama fractional heads", edit(t, llamaJSON, map[string]any{"num_attention_heads": 2.5}), []string{`"num_attention_heads"`, "integer"}},
		{"llama string hidden", edit(t, llamaJSON, map[string]any{"hidden_size": "64"}), []string{`"hidden_size"`, "string"}},
		{"kv not dividing heads", edit(t, llamaJSON, map[string]any{"num_key_value_heads": 3}), []string{`"num_key_value_heads"`, "3 does not divide", "8"}},
		{"heads not dividing hidden", edit(t, llamaJSON, map[string]any{"num_attention_heads": 6, "num_key_value_heads": 3}), []string{`"num_attention_heads"`, "hidden_size 64"}},
		{"negative eps", edit(t, llamaJSON, map[string]any{"rms_norm_eps": -1}), []string{`"rms_norm_eps"`, "positive"}},
		{"tie not bool", edit(t, llamaJSON, map[string]any{"tie_word_embeddings": "yes"}), []string{`"tie_word_embeddings"`}},
		{"dtypes disagree", edit(t, llamaJSON, map[string]any{"torch_dtype": "float32", "dtype": "bfloat16"}), []string{`"dtype"`, "torch_dtype"}},
		{"rope disagree", edit(t, llamaJSON, map[string]any{"rope_theta": 10000.0, "rope_parameters": map[string]any{"rope_theta": 500000.0, "rope_type": "default"}}), []string{`"rope_parameters"`, "contradicts"}},
		{"rope_parameters not object", edit(t, llamaJSON, map[string]any{"rope_parameters": 3}), []string{`"rope_parameters"`}},
		{"layer_types length", edit(t, llamaJSON, map[string]any{"layer_types": []any{"full_attention"}}), []string{`"layer_types"`, "1 entries", "2 layers"}},
		{"layer_types element", edit(t, llamaJSON, map[string]any{"layer_types": []any{"full_attention", 2}}), []string{`"layer_types"`}},
		{"architectures not list", edit(t, llamaJSON, map[string]any{"architectures": "LlamaForCausalLM"}), []string{`"architectures"`}},
		{"gpt2 missing n_embd", edit(t, gpt2JSON, map[string]any{"n_embd": nil}), []string{`"n_embd"`, "missing"}},
		{"gpt2 aliases disagree", edit(t, gpt2JSON, map[string]any{"hidden_size": 16}), []string{`"hidden_size"`, "contradicts n_embd 8"}},
		{"gpt2 heads not dividing", edit(t, gpt2JSON, map[string]any{"n_head": 3}), []string{`"n_head"`, "n_embd 8"}},
		{"gpt2 bad n_inner", edit(t, gpt2JSON, map[string]any{"n_inner": 0}), []string{`"n_inner"`, "positive"}},
		{"bert missing ffn", edit(t, bertJSON, map[string]any{"intermediate_size": nil}), []string{`"intermediate_size"`}},
		{"bert heads not dividing", edit(t, bertJSON, map[string]any{"num_attention_heads": 3}), []string{`"num_attention_heads"`, "hidden_size 8"}},
		{"phi3 heads not dividing", edit(t, llamaJSON, map[string]any{"model_type": "phi3", "num_attention_heads": 6, "num_key_value_heads": 3}), []string{`"num_attention_heads"`, "hidden_size 64"}},
		{"phi3 kv not dividing heads", edit(t, llamaJSON, map[string]any{"model_type": "phi3", "num_key_value_heads": 3}), []string{`"num_key_value_heads"`, "3 does not divide"}},
		{"phi3 partial rotary zero", edit(t, llamaJSON, map[string]any{"model_type": "phi3", "partial_rotary_factor": 0}), []string{`"partial_rotary_factor"`, "(0, 1]"}},
		{"phi3 partial rotary above one", edit(t, llamaJSON, map[string]any{"model_type": "phi3",
			"rope_parameters": map[string]any{"rope_type": "default", "partial_rotary_factor": 1.5}}), []string{`"rope_parameters"`, "(0, 1]"}},
		{"phi3 partial rotary disagree", edit(t, llamaJSON, map[string]any{"model_type": "phi3", "partial_rotary_factor": 0.5,
			"rope_parameters": map[string]any{"rope_type": "default", "partial_rotary_factor": 0.25}}), []string{`"rope_parameters"`, "contradicts"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(tc.data, "cfg.json")
			if err == nil {
				t.Fatalf("no error; parsed %+v", c)
			}
			for _, w := range append(tc.want, "cfg.json") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestParseConfigDefaultsAndSpellings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  []byte
		check func(t *testing.T, c *Config)
	}{
		{"gpt2 n_inner null is 4 n_embd", []byte(gpt2JSON), func(t *testing.T, c *Config) {
			if c.FFN != 32 || c.HeadDim != 4 || c.KVHeads != 2 || !c.Tied || c.MaxPositions != 1024 || c.NormEps != 1e-5 || c.Act != "gelu_new" {
				t.Errorf("%+v", c)
			}
		}},
		{"gpt2 aliases agree", edit(t, gpt2JSON, map[string]any{"hidden_size": 8, "num_hidden_layers": 2}), func(t *testing.T, c *Config) {
			if c.Hidden != 8 || c.Layers != 2 {
				t.Errorf("%+v", c)
			}
		}},
		{"gpt2 explicit n_inner and untied", edit(t, gpt2JSON, map[string]any{"n_inner": 20, "tie_word_embeddings": false}), func(t *testing.T, c *Config) {
			if c.FFN != 20 || c.Tied {
				t.Errorf("FFN %d Tied %v", c.FFN, c.Tied)
			}
		}},
		{"llama defaults", edit(t, llamaJSON, map[string]any{"num_key_value_heads": nil}), func(t *testing.T, c *Config) {
			if c.KVHeads != 8 || c.HeadDim != 8 || c.Tied || c.RopeTheta != 10000 || c.AttentionBias || c.MLPBias || c.DType != "" || c.LayerTypes != nil {
				t.Errorf("%+v", c)
			}
		}},
		{"llama explicit head_dim not dividing", edit(t, llamaJSON, map[string]any{"head_dim": 12, "num_attention_heads": 6, "num_key_value_heads": 2}), func(t *testing.T, c *Config) {
			if c.HeadDim != 12 || c.Heads != 6 || c.KVHeads != 2 {
				t.Errorf("%+v", c)
			}
		}},
		{"qwen2 biases always on", edit(t, llamaJSON, map[string]any{"model_type": "qwen2", "tie_word_embeddings": true, "attention_bias": false}), func(t *testing.T, c *Config) {
			if !c.AttentionBias || c.MLPBias || !c.Tied || c.Family() != "llama" {
				t.Errorf("%+v", c)
			}
		}},
		{"mistral ignores attention_bias", edit(t, llamaJSON, map[string]any{"model_type": "mistral", "attention_bias": true}), func(t *testing.T, c *Config) {
			if c.AttentionBias {
				t.Errorf("mistral has no attention bias: %+v", c)
			}
		}},
		{"llama attention_bias", edit(t, llamaJSON, map[string]any{"attention_bias": true, "mlp_bias": true}), func(t *testing.T, c *Config) {
			if !c.AttentionBias || !c.MLPBias {
				t.Errorf("%+v", c)
			}
		}},
		{"v5 dtype and rope_parameters", edit(t, llamaJSON, map[string]any{"dtype": "bfloat16",
			"rope_parameters": map[string]any{"rope_theta": 500000.0, "rope_type": "llama3", "factor": 8.0},
			"layer_types":     []any{"full_attention", "sliding_attention"}}), func(t *testing.T, c *Config) {
			if c.DType != "bfloat16" || c.RopeTheta != 500000 || c.RopeScaling["rope_type"] != "llama3" || c.RopeScaling["factor"] != 8.0 {
				t.Errorf("%+v", c)
			}
			if !reflect.DeepEqual(c.LayerTypes, []string{"full_attention", "sliding_attention"}) {
				t.Errorf("layer types %v", c.LayerTypes)
			}
		}},
		{"v4 and v5 dtype agree", edit(t, llamaJSON, map[string]any{"dtype": "float16", "torch_dtype": "float16"}), func(t *testing.T, c *Config) {
			if c.DType != "float16" {
				t.Errorf("%+v", c)
			}
		}},
		{"v4 rope_scaling", edit(t, llamaJSON, map[string]any{"rope_theta": 1e6, "rope_scaling": map[string]any{"type": "linear", "factor": 2.0}}), func(t *testing.T, c *Config) {
			if c.RopeTheta != 1e6 || c.RopeScaling["type"] != "linear" {
				t.Errorf("%+v", c)
			}
		}},
		{"qwen3 defaults: head_dim 128, untied, no bias", edit(t, llamaJSON, map[string]any{"model_type": "qwen3"}), func(t *testing.T, c *Config) {
			if c.HeadDim != 128 || c.KVHeads != 4 || c.Tied || c.AttentionBias || c.MLPBias || c.MaxPositions != 32768 || c.RotaryFraction != 1 || c.Family() != "llama" {
				t.Errorf("%+v", c)
			}
		}},
		{"qwen3 attention_bias and explicit head_dim", edit(t, llamaJSON, map[string]any{"model_type": "qwen3", "attention_bias": true, "mlp_bias": true, "head_dim": 12}), func(t *testing.T, c *Config) {
			if !c.AttentionBias || c.MLPBias || c.HeadDim != 12 {
				t.Errorf("%+v", c)
			}
		}},
		{"phi3 derived head_dim with GQA", edit(t, llamaJSON, map[string]any{"model_type": "phi3", "head_dim": 12}), func(t *testing.T, c *Config) {
			if c.HeadDim != 8 || c.KVHeads != 4 || c.Heads != 8 || c.Tied || c.NormEps != 1e-5 || c.MaxPositions != 4096 || c.RotaryFraction != 1 {
				t.Errorf("%+v", c)
			}
		}},
		{"phi3 v4 partial_rotary_factor", edit(t, llamaJSON, map[string]any{"model_type": "phi3", "partial_rotary_factor": 0.75}), func(t *testing.T, c *Config) {
			if c.RotaryFraction != 0.75 || c.RopeScaling != nil {
				t.Errorf("%+v", c)
			}
		}},
		{"phi3 v5 partial_rotary_factor in rope_parameters", edit(t, llamaJSON, map[string]any{"model_type": "phi3", "partial_rotary_factor": 0.5,
			"rope_parameters": map[string]any{"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5}}), func(t *testing.T, c *Config) {
			if c.RotaryFraction != 0.5 || c.RopeScaling != nil || c.RopeTheta != 10000 {
				t.Errorf("%+v", c)
			}
		}},
		{"llama has no partial rotary", edit(t, llamaJSON, map[string]any{"partial_rotary_factor": 0.5}), func(t *testing.T, c *Config) {
			if c.RotaryFraction != 1 {
				t.Errorf("%+v", c)
			}
		}},
		{"bert defaults", []byte(bertJSON), func(t *testing.T, c *Config) {
			if c.TypeVocab != 2 || c.MaxPositions != 512 || !c.Tied || c.NormEps != 1e-12 || c.Act != "gelu" || c.HeadDim != 4 {
				t.Errorf("%+v", c)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(tc.data, "cfg.json")
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// marshalMap marshals c and decodes the result.
func marshalMap(t *testing.T, c *Config) map[string]any {
	t.Helper()
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return m
}

func TestConfigMarshalAfterGrowth(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   []byte
		change func(c *Config)
		want   map[string]any // nil value: key must be absent
	}{
		{"llama head_dim explicit after width growth", []byte(llamaJSON), func(c *Config) {
			c.Hidden, c.Heads, c.KVHeads, c.FFN = 128, 16, 8, 344
		}, map[string]any{"hidden_size": 128.0, "num_attention_heads": 16.0, "num_key_value_heads": 8.0,
			"head_dim": 8.0, "intermediate_size": 344.0, "tie_word_embeddings": nil, "rope_theta": 10000.0}},
		{"llama untie is written", edit(t, llamaJSON, map[string]any{"tie_word_embeddings": true}), func(c *Config) {
			c.Tied = false
		}, map[string]any{"tie_word_embeddings": false}},
		{"gpt2 n_inner explicit", []byte(gpt2JSON), func(c *Config) { c.Hidden, c.Heads = 16, 4 },
			map[string]any{"n_embd": 16.0, "n_head": 4.0, "n_inner": 32.0, "tie_word_embeddings": nil}},
		{"gpt2 untied", []byte(gpt2JSON), func(c *Config) { c.Tied = false },
			map[string]any{"tie_word_embeddings": false}},
		{"gpt2 n_ctx follows positions", edit(t, gpt2JSON, map[string]any{"n_ctx": 1024, "n_positions": 1024}), func(c *Config) { c.MaxPositions = 2048 },
			map[string]any{"n_ctx": 2048.0, "n_positions": 2048.0}},
		{"dtype v4 spelling kept", edit(t, llamaJSON, map[string]any{"torch_dtype": "float32"}), func(c *Config) { c.DType = "bfloat16" },
			map[string]any{"torch_dtype": "bfloat16", "dtype": nil}},
		{"dtype v5 spelling kept", edit(t, llamaJSON, map[string]any{"dtype": "float32"}), func(c *Config) { c.DType = "bfloat16" },
			map[string]any{"dtype": "bfloat16", "torch_dtype": nil}},
		{"dtype both spellings kept", edit(t, llamaJSON, map[string]any{"dtype": "float32", "torch_dtype": "float32"}), func(c *Config) { c.DType = "float16" },
			map[string]any{"dtype": "float16", "torch_dtype": "float16"}},
		{"dtype absent gets torch_dtype", []byte(llamaJSON), func(c *Config) { c.DType = "float32" },
			map[string]any{"torch_dtype": "float32", "dtype": nil}},
		{"rope_parameters updated in place", edit(t, llamaJSON, map[string]any{"rope_parameters": map[string]any{"rope_theta": 500000.0, "rope_type": "default"}}), func(c *Config) { c.RopeTheta = 1e6 },
			map[string]any{"rope_parameters": map[string]any{"rope_theta": 1e6, "rope_type": "default"}, "rope_theta": nil}},
		{"layer_types extended by period", edit(t, llamaJSON, map[string]any{"layer_types": []any{"sliding_attention", "full_attention"}}), func(c *Config) { c.Layers = 5 },
			map[string]any{"num_hidden_layers": 5.0, "layer_types": []any{"sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention"}}},
		{"layer_types truncated", edit(t, llamaJSON, map[string]any{"layer_types": []any{"sliding_attention", "full_attention"}}), func(c *Config) { c.Layers = 1 },
			map[string]any{"layer_types": []any{"sliding_attention"}}},
		{"Set adds a key, typed fields win", []byte(llamaJSON), func(c *Config) {
			c.Set("my_key", "x")
			c.Set("hidden_size", 7)
		}, map[string]any{"my_key": "x", "hidden_size": 64.0}},
		{"qwen3 keys after width growth", edit(t, llamaJSON, map[string]any{"model_type": "qwen3", "head_dim": 16, "attention_bias": false,
			"use_sliding_window": false, "max_window_layers": 28, "sliding_window": nil}), func(c *Config) { c.Hidden, c.Heads, c.KVHeads = 128, 16, 8 },
			map[string]any{"hidden_size": 128.0, "num_attention_heads": 16.0, "num_key_value_heads": 8.0, "head_dim": 16.0,
				"attention_bias": false, "use_sliding_window": false, "max_window_layers": 28.0}},
		{"qwen3 attention_bias written when on", edit(t, llamaJSON, map[string]any{"model_type": "qwen3"}), func(c *Config) { c.AttentionBias = true },
			map[string]any{"attention_bias": true, "mlp_bias": nil, "head_dim": 128.0}},
		{"phi3 has no head_dim key", edit(t, llamaJSON, map[string]any{"model_type": "phi3"}), func(c *Config) { c.Hidden, c.Heads, c.KVHeads = 128, 16, 8 },
			map[string]any{"hidden_size": 128.0, "num_attention_heads": 16.0, "num_key_value_heads": 8.0, "head_dim": nil, "partial_rotary_factor": nil}},
		{"phi3 partial rotary kept in both places", edit(t, llamaJSON, map[string]any{"model_type": "phi3", "partial_rotary_factor": 0.5,
			"rope_parameters": map[string]any{"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5}}), func(c *Config) { c.Hidden = 128 },
			map[string]any{"partial_rotary_factor": 0.5, "rope_parameters": map[string]any{"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5}}},
		{"phi3 partial rotary changed", edit(t, llamaJSON, map[string]any{"model_type": "phi3",
			"rope_parameters": map[string]any{"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5}}), func(c *Config) { c.RotaryFraction = 0.25 },
			map[string]any{"partial_rotary_factor": nil, "rope_parameters": map[string]any{"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.25}}},
		{"phi3 partial rotary added", edit(t, llamaJSON, map[string]any{"model_type": "phi3"}), func(c *Config) { c.RotaryFraction = 0.5 },
			map[string]any{"partial_rotary_factor": 0.5}},
		{"bert keys", []byte(bertJSON), func(c *Config) { c.Vocab, c.TypeVocab = 40, 3 },
			map[string]any{"vocab_size": 40.0, "type_vocab_size": 3.0, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(tc.data, "cfg.json")
			if err != nil {
				t.Fatal(err)
			}
			orig := c.Clone()
			tc.change(c)
			m := marshalMap(t, c)
			for k, w := range tc.want {
				v, ok := m[k]
				if w == nil {
					if ok {
						t.Errorf("key %q = %v, want absent", k, v)
					}
					continue
				}
				if !reflect.DeepEqual(v, w) {
					t.Errorf("key %q = %v, want %v", k, v, w)
				}
			}
			// The clone taken before the change is untouched.
			if _, err := ParseConfig(mustMarshal(t, orig), "orig"); err != nil {
				t.Errorf("clone: %v", err)
			}
			if _, ok := orig.Get("my_key"); ok {
				t.Errorf("Set on the original leaked into the clone")
			}
		})
	}
}

func mustMarshal(t *testing.T, c *Config) []byte {
	t.Helper()
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMarshalKeepsNumberSpelling: transformers v5 validates config types, so a
// float written as 10000.0 must not come back as the integer 10000.
func TestMarshalKeepsNumberSpelling(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "stories260k", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(data, "config.json")
	if err != nil {
		t.Fatal(err)
	}
	out := string(mustMarshal(t, c))
	for _, want := range []string{`"rope_theta": 10000.0`, `"attention_dropout": 0.0`, `"rms_norm_eps": 1e-05`, `"initializer_range": 0.02`, `"hidden_size": 64`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	c.RopeTheta, c.NormEps = 500000, 1e-6
	out = string(mustMarshal(t, c))
	for _, want := range []string{`"rope_theta": 500000.0`, `"rms_norm_eps": 1e-06`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

func TestConfigCloneIsDeep(t *testing.T) {
	c, err := ParseConfig(edit(t, llamaJSON, map[string]any{"rope_parameters": map[string]any{"rope_theta": 1e4, "rope_type": "linear", "factor": 2.0}, "nested": map[string]any{"a": []any{1.0}}}), "cfg.json")
	if err != nil {
		t.Fatal(err)
	}
	d := c.Clone()
	d.RopeScaling["factor"] = 4.0
	d.Architectures = append(d.Architectures, "X")
	n, _ := d.Get("nested")
	n.(map[string]any)["a"].([]any)[0] = 2.0
	if c.RopeScaling["factor"] != 2.0 || len(c.Architectures) != 0 {
		t.Errorf("clone shares typed fields")
	}
	n0, _ := c.Get("nested")
	if n0.(map[string]any)["a"].([]any)[0] != 1.0 {
		t.Errorf("clone shares raw values")
	}
}

func TestResizeLayerTypes(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		n    int
		want []string
	}{
		{[]string{"a", "a"}, 4, []string{"a", "a", "a", "a"}},
		{[]string{"s", "s", "f", "s", "s", "f"}, 8, []string{"s", "s", "f", "s", "s", "f", "s", "s"}},
		{[]string{"s", "f", "f"}, 5, []string{"s", "f", "f", "s", "f"}},
		{[]string{"a", "b", "c"}, 2, []string{"a", "b"}},
	} {
		if got := resizeLayerTypes(tc.in, tc.n); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("resize(%v, %d) = %v, want %v", tc.in, tc.n, got, tc.want)
		}
	}
}

func ExampleParseConfig() {
	c, err := ParseConfig([]byte(`{"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12,
		"n_inner": null, "vocab_size": 50257}`), "config.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c)
	c.Hidden, c.Heads = 1536, 24 // width growth; the FFN keeps its size
	out, _ := c.Marshal()
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	fmt.Println("n_embd", m["n_embd"], "n_head", m["n_head"], "n_inner", m["n_inner"])
	// Output:
	// gpt2 hidden 768, 12 layers, 12/12 heads of 64, ffn 3072, vocab 50257
	// n_embd 1536 n_head 24 n_inner 3072
}

// FuzzParseConfig: no input panics, and a config that parses marshals to one
// that parses to the same typed view.
func FuzzParseConfig(f *testing.F) {
	for _, d := range []string{"stories260k", "gpt2-random-realtok", "gpt2-random-toyvocab", "bert-random-realtok"} {
		if b, err := os.ReadFile(filepath.Join("..", "testdata", d, "config.json")); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(llamaJSON))
	f.Add([]byte(gpt2JSON))
	f.Add([]byte(bertJSON))
	f.Add([]byte(`{"model_type": "qwen2", "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
		"intermediate_size": 4, "vocab_size": 9, "dtype": "bfloat16", "layer_types": ["full_attention", "sliding_attention"],
		"rope_parameters": {"rope_type": "yarn", "rope_theta": 1e6, "factor": 4.0}, "rope_scaling": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "fuzz.json")
		if err != nil {
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		d, err := ParseConfig(out, "fuzz.json")
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		a, b := *c, *d
		a.raw, a.orig, b.raw, b.orig = nil, nil, nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("typed view changed:\n%+v\n%+v", a, b)
		}
	})
}
