package family

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The registry holds the eleven model types, each under its own key.
func TestRegistry(t *testing.T) {
	want := []string{"bert", "gemma", "gpt2", "gpt_neox", "llama", "mistral", "olmo2", "opt", "phi3", "qwen2", "qwen3"}
	if got := ModelTypes(); !slices.Equal(got, want) {
		t.Errorf("ModelTypes() = %v, want %v", got, want)
	}
	for _, mt := range want {
		d, ok := Lookup(mt)
		if !ok || d.ModelType != mt {
			t.Errorf("Lookup(%q) = %v, %v", mt, d, ok)
		}
	}
	if _, ok := Lookup("t5"); ok {
		t.Errorf("Lookup(t5) found a descriptor")
	}
	if got := Known(); got != "bert, gemma, gpt2, gpt_neox, llama, mistral, olmo2, opt, phi3, qwen2, qwen3" {
		t.Errorf("Known() = %q", got)
	}
}

// What each model type is, as transformers' modeling code computes it.
func TestFeatures(t *testing.T) {
	for _, tc := range []struct {
		modelType       string
		family          string
		norm            NormKind
		postLN, causal  bool
		positions       Positions
		gated, gqa, mlm bool
		headDim         HeadDim
		biases          Biases
		divide          bool
		qkNorm          bool
	}{
		{"gpt2", "gpt2", LayerNorm, false, true, Learned, false, false, false, Derived,
			Biases{BiasAlways, BiasAlways, BiasAlways}, false, false},
		{"llama", "llama", RMSNorm, false, true, Rotary, true, true, false, Explicit,
			Biases{BiasIfAttention, BiasIfAttention, BiasIfMLP}, true, false},
		{"mistral", "llama", RMSNorm, false, true, Rotary, true, true, false, Explicit,
			Biases{BiasNever, BiasNever, BiasNever}, false, false},
		{"qwen2", "llama", RMSNorm, false, true, Rotary, true, true, false, Explicit,
			Biases{BiasAlways, BiasNever, BiasNever}, false, false},
		{"bert", "bert", LayerNorm, true, false, Learned, false, false, true, Derived,
			Biases{BiasAlways, BiasAlways, BiasAlways}, false, false},
		{"qwen3", "llama", RMSNorm, false, true, Rotary, true, true, false, Explicit,
			Biases{BiasIfAttention, BiasIfAttention, BiasNever}, false, true},
		{"phi3", "llama", RMSNorm, false, true, Rotary, true, true, false, Derived,
			Biases{BiasNever, BiasNever, BiasNever}, false, false},
		{"gemma", "llama", RMSNorm, false, true, Rotary, true, true, false, Explicit,
			Biases{BiasIfAttention, BiasIfAttention, BiasNever}, false, false},
		{"gpt_neox", "gpt_neox", LayerNorm, false, true, Rotary, false, false, false, Derived,
			Biases{BiasIfAttention, BiasIfAttention, BiasAlways}, false, false},
		{"opt", "opt", LayerNorm, false, true, Learned, false, false, false, Derived,
			Biases{BiasIfAttention, BiasIfAttention, BiasIfMLP}, false, false},
		{"olmo2", "olmo2", RMSNorm, false, true, Rotary, true, true, false, Derived,
			Biases{BiasIfAttention, BiasIfAttention, BiasNever}, false, true},
	} {
		t.Run(tc.modelType, func(t *testing.T) {
			d, ok := Lookup(tc.modelType)
			if !ok {
				t.Fatal("not registered")
			}
			f := d.Features
			if d.Family != tc.family || f.Norm != tc.norm || f.PostLN != tc.postLN || f.Causal != tc.causal ||
				f.Positions != tc.positions || f.GatedMLP != tc.gated || f.GQA != tc.gqa || f.MLMHead != tc.mlm ||
				f.HeadDim != tc.headDim || f.Biases != tc.biases || d.Constraints.HeadsDivideHidden != tc.divide ||
				f.QKNorm != tc.qkNorm {
				t.Errorf("family %s, features %+v, constraints %+v", d.Family, f, d.Constraints)
			}
		})
	}
}

// Every descriptor is complete and consistent with itself.
func TestDescriptorsConsistent(t *testing.T) {
	for _, mt := range ModelTypes() {
		d, _ := Lookup(mt)
		t.Run(mt, func(t *testing.T) {
			var errs []string
			fail := func(format string, args ...any) {
				errs = append(errs, fmt.Sprintf(format, args...))
			}
			c, f, ts := d.Config, d.Features, d.Tensors
			if d.Family == "" || d.Name == "" || d.ConfigClass == "" {
				fail("Family %q, Name %q, ConfigClass %q", d.Family, d.Name, d.ConfigClass)
			}
			// NormEps may have no key: the eps is then fixed (OPT).
			for name, keys := range map[string][]string{"Hidden": c.Hidden, "Layers": c.Layers, "Heads": c.Heads,
				"FFN": c.FFN, "Vocab": c.Vocab, "Positions": c.Positions, "Act": c.Act} {
				if len(keys) == 0 {
					fail("Config.%s has no key", name)
				}
			}
			if c.PositionsDefault <= 0 || c.NormEpsDefault <= 0 || c.ActDefault == "" {
				fail("defaults: positions %d, eps %g, act %q", c.PositionsDefault, c.NormEpsDefault, c.ActDefault)
			}
			if (c.TypeVocab != nil) != f.TokenTypes || (f.TokenTypes && c.TypeVocabDefault <= 0) {
				fail("token types %v, but TypeVocab keys %v default %d", f.TokenTypes, c.TypeVocab, c.TypeVocabDefault)
			}
			switch f.HeadDim {
			case Derived:
				if (c.KVHeads != nil) != f.GQA || c.HeadDim != nil || c.HeadDimDefault != 0 {
					fail("derived head_dim with KVHeads %v, HeadDim %v (default %d), GQA %v", c.KVHeads, c.HeadDim, c.HeadDimDefault, f.GQA)
				}
			case Explicit:
				if c.KVHeads == nil || c.HeadDim == nil {
					fail("explicit head_dim without KVHeads or HeadDim keys")
				}
			default:
				fail("HeadDim %q", f.HeadDim)
			}
			if f.Norm != LayerNorm && f.Norm != RMSNorm {
				fail("Norm %q", f.Norm)
			}
			switch f.Positions {
			case Rotary:
				if !(f.RotaryFraction > 0 && f.RotaryFraction <= 1) {
					fail("rotary fraction %g", f.RotaryFraction)
				}
			case Learned:
				if f.RotaryFraction != 0 || c.RotaryFraction != nil {
					fail("learned positions with rotary fraction %g (keys %v)", f.RotaryFraction, c.RotaryFraction)
				}
			default:
				fail("Positions %q", f.Positions)
			}
			for _, b := range []Bias{f.Biases.QKV, f.Biases.O, f.Biases.MLP} {
				switch b {
				case BiasAlways, BiasNever:
				case BiasIfAttention:
					if c.AttentionBias == "" {
						fail("bias rule %s without Config.AttentionBias", b)
					}
				case BiasIfMLP:
					if c.MLPBias == "" {
						fail("bias rule %s without Config.MLPBias", b)
					}
				default:
					fail("bias rule %q", b)
				}
			}
			if f.Start.Key == "" || f.Start.Default < -1 {
				fail("start token %+v", f.Start)
			}
			if len(ts.Prefixes) == 0 || ts.Embed == "" || ts.Head == "" || strings.Count(ts.Layer, "%d") != 1 {
				fail("tensors: prefixes %q, embed %q, head %q, layer %q", ts.Prefixes, ts.Embed, ts.Head, ts.Layer)
			}
			switch ts.Base {
			case BaseByArchitecture, BaseByPrefix, BaseByHeadTensors:
			default:
				fail("Base %q", ts.Base)
			}
			if len(ts.BaseArchitectures) == 0 {
				fail("no base architecture")
			}
			if (ts.Base == BaseByHeadTensors) != f.MLMHead {
				fail("Base %s with MLMHead %v", ts.Base, f.MLMHead)
			}
			// Names are unique in the layer template and outside it (OPT's
			// final_layer_norm is both a layer's and the model's).
			all := slices.Concat(ts.Top, ts.PerLayer, ts.Bottom)
			names := map[string]bool{}
			embed, head := false, false
			for i, x := range all {
				key := x.Name
				if i >= len(ts.Top) && i < len(ts.Top)+len(ts.PerLayer) {
					key = ts.Layer + key
				}
				if names[key] {
					fail("tensor %q listed twice", x.Name)
				}
				names[key] = true
				embed = embed || (x.Name == ts.Embed && !x.Global)
				head = head || (x.Name == ts.Head && x.Global && x.When == WhenHead)
				switch x.Stored {
				case Plain, Conv1D:
					if len(x.Roles) != 1 {
						fail("tensor %q: %s storage of %d roles", x.Name, x.Stored, len(x.Roles))
					}
				case FusedConv1D, FusedRows, FusedHeads:
					if len(x.Roles) < 2 {
						fail("tensor %q: fused storage of %d roles", x.Name, len(x.Roles))
					}
				default:
					fail("tensor %q: storage %q", x.Name, x.Stored)
				}
				if x.AltTiedCopy && x.Alt == "" {
					fail("tensor %q: AltTiedCopy without Alt", x.Name)
				}
			}
			if !embed || !head {
				fail("embedding %q listed %v, head %q listed %v", ts.Embed, embed, ts.Head, head)
			}
			for _, e := range ts.Extras {
				if _, err := regexp.Compile(e.Pattern); err != nil {
					fail("extra %s: %v", e.Role, err)
				}
				if e.Rule != RuleHidden && e.Rule != RuleCopy && e.Rule != RuleDrop {
					fail("extra %s: rule %q", e.Role, e.Rule)
				}
			}
			if f.QKNormWhole && !f.QKNorm {
				fail("QKNormWhole without QKNorm")
			}
			if (c.ParallelResidual == "") && c.ParallelResidualDefault {
				fail("a parallel-residual default without its key")
			}
			for _, q := range c.Requires {
				if q.Key == "" || q.Why == "" || (q.Want == nil) == !q.EqualsHidden {
					fail("require %+v", q)
				}
			}
			if len(errs) > 0 {
				t.Error(strings.Join(errs, "\n"))
			}
		})
	}
}

// The legend names the config keys behind each dimension symbol.
func TestLegend(t *testing.T) {
	for _, tc := range []struct {
		modelType string
		want      map[string]string
	}{
		{"gpt2", map[string]string{"D": "n_embd", "V": "vocab_size", "P": "n_positions", "I": "n_inner",
			"Hd": "n_embd", "Kd": "n_embd", "d": "n_embd/n_head"}},
		{"llama", map[string]string{"D": "hidden_size", "V": "vocab_size", "I": "intermediate_size",
			"Hd": "num_attention_heads×head_dim", "Kd": "num_key_value_heads×head_dim", "d": "head_dim"}},
		{"bert", map[string]string{"D": "hidden_size", "V": "vocab_size", "P": "max_position_embeddings",
			"T": "type_vocab_size", "I": "intermediate_size", "Hd": "hidden_size", "Kd": "hidden_size",
			"d": "hidden_size/num_attention_heads"}},
		{"qwen3", map[string]string{"D": "hidden_size", "V": "vocab_size", "I": "intermediate_size",
			"Hd": "num_attention_heads×head_dim", "Kd": "num_key_value_heads×head_dim", "d": "head_dim"}},
		{"phi3", map[string]string{"D": "hidden_size", "V": "vocab_size", "I": "intermediate_size",
			"Hd": "hidden_size", "Kd": "num_key_value_heads×hidden_size/num_attention_heads",
			"d": "hidden_size/num_attention_heads"}},
		{"gemma", map[string]string{"D": "hidden_size", "V": "vocab_size", "I": "intermediate_size",
			"Hd": "num_attention_heads×head_dim", "Kd": "num_key_value_heads×head_dim", "d": "head_dim"}},
		{"gpt_neox", map[string]string{"D": "hidden_size", "V": "vocab_size", "I": "intermediate_size",
			"Hd": "hidden_size", "Kd": "hidden_size", "d": "hidden_size/num_attention_heads"}},
		{"opt", map[string]string{"D": "hidden_size", "V": "vocab_size", "P": "max_position_embeddings", "I": "ffn_dim",
			"Hd": "hidden_size", "Kd": "hidden_size", "d": "hidden_size/num_attention_heads"}},
		{"olmo2", map[string]string{"D": "hidden_size", "V": "vocab_size", "I": "intermediate_size",
			"Hd": "hidden_size", "Kd": "num_key_value_heads×hidden_size/num_attention_heads",
			"d": "hidden_size/num_attention_heads"}},
	} {
		d, _ := Lookup(tc.modelType)
		got := d.Legend()
		if len(got) != len(tc.want) {
			t.Errorf("%s: legend %v, want %v", tc.modelType, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: legend %v, want %v", tc.modelType, got, tc.want)
				break
			}
		}
	}
}

// The features of the families that Features' table above does not show.
func TestFamilyFeatures(t *testing.T) {
	for _, tc := range []struct {
		modelType                    string
		plusOne, embScale, qkWhole   bool
		posFromMask                  bool
		blockNorms                   BlockNorms
		parallel                     string
		parallelDefault, biasDefault bool
		rotary                       float64
	}{
		{modelType: "llama", rotary: 1},
		{modelType: "gemma", plusOne: true, embScale: true, rotary: 1},
		{modelType: "gpt_neox", parallel: "use_parallel_residual", parallelDefault: true, biasDefault: true, rotary: 0.25},
		{modelType: "opt", posFromMask: true, biasDefault: true},
		{modelType: "olmo2", qkWhole: true, blockNorms: NormsOut, rotary: 1},
	} {
		d, _ := Lookup(tc.modelType)
		f, c := d.Features, d.Config
		if f.NormPlusOne != tc.plusOne || f.EmbedScale != tc.embScale || f.QKNormWhole != tc.qkWhole ||
			f.PositionsFromMask != tc.posFromMask || f.BlockNorms != tc.blockNorms || c.ParallelResidual != tc.parallel ||
			c.ParallelResidualDefault != tc.parallelDefault || c.BiasDefault != tc.biasDefault || f.RotaryFraction != tc.rotary {
			t.Errorf("%s: features %+v, config %+v", tc.modelType, f, c)
		}
	}
}
