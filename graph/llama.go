package graph

import (
	"fmt"
	"maps"
	"regexp"
	"strings"
)

// LLaMA family (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM; the base
// models without the "model." prefix):
//
//	model.embed_tokens.weight [V, D]                          embed
//	model.layers.i.input_layernorm.weight [D]                 layers.i.attn_norm.weight
//	model.layers.i.self_attn.q_proj.{weight [H·d, D], bias}   layers.i.attn.q
//	model.layers.i.self_attn.{k,v}_proj.{weight [K·d, D], bias} layers.i.attn.{k,v}
//	model.layers.i.self_attn.o_proj.{weight [D, H·d], bias}   layers.i.attn.o
//	model.layers.i.post_attention_layernorm.weight [D]        layers.i.mlp_norm.weight
//	model.layers.i.mlp.{gate,up}_proj.{weight [I, D], bias}   layers.i.mlp.{gate,up}
//	model.layers.i.mlp.down_proj.{weight [D, I], bias}        layers.i.mlp.down
//	model.norm.weight [D]                                     final_norm.weight
//	lm_head.weight [V, D]                                     head (absent or equal when tied)
//
// Biases: q/k/v and o with llama's attention_bias, gate/up/down with mlp_bias;
// Qwen2 always has q/k/v biases and never o or MLP biases; Mistral has none.
// Extras: model.layers.i.self_attn.rotary_emb.inv_freq (an old RoPE buffer, rule
// "drop").
var llamaTable = &table{
	family: FamilyLlama,
	legend: map[string]string{"D": "hidden_size", "V": "vocab_size", "I": "intermediate_size",
		"Hd": "num_attention_heads×head_dim", "Kd": "num_key_value_heads×head_dim"},
	layout:     llamaLayout,
	writeFlags: llamaWriteFlags,
}

func llamaLayout(g *Graph, f flags) []slot {
	p := g.llamaPrefix()
	sh := g.shape
	s := []slot{{name: p + "embed_tokens.weight", roles: []string{"embed"}, ptrs: []*Tensor{&g.Embed}, want: [][]dim{sh("V", "D")}}}
	lin := func(name, role string, l *Linear, bias bool, out, in string) []slot {
		ss := []slot{{name: name + ".weight", roles: []string{role + ".weight"}, ptrs: []*Tensor{&l.W}, want: [][]dim{sh(out, in)}}}
		if bias {
			ss = append(ss, slot{name: name + ".bias", roles: []string{role + ".bias"}, ptrs: []*Tensor{&l.B}, want: [][]dim{sh(out)}})
		}
		return ss
	}
	for i := range g.Layers {
		l := &g.Layers[i]
		h := fmt.Sprintf("%slayers.%d.", p, i)
		r := fmt.Sprintf("layers.%d.", i)
		s = append(s, slot{name: h + "input_layernorm.weight", roles: []string{r + "attn_norm.weight"}, ptrs: []*Tensor{&l.AttnNorm.W}, want: [][]dim{sh("D")}})
		s = append(s, lin(h+"self_attn.q_proj", r+"attn.q", &l.Q, f.qkvBias, "Hd", "D")...)
		s = append(s, lin(h+"self_attn.k_proj", r+"attn.k", &l.K, f.qkvBias, "Kd", "D")...)
		s = append(s, lin(h+"self_attn.v_proj", r+"attn.v", &l.V, f.qkvBias, "Kd", "D")...)
		s = append(s, lin(h+"self_attn.o_proj", r+"attn.o", &l.O, f.oBias, "D", "Hd")...)
		s = append(s, slot{name: h + "post_attention_layernorm.weight", roles: []string{r + "mlp_norm.weight"}, ptrs: []*Tensor{&l.MLPNorm.W}, want: [][]dim{sh("D")}})
		s = append(s, lin(h+"mlp.gate_proj", r+"mlp.gate", &l.Gate, f.mlpBias, "I", "D")...)
		s = append(s, lin(h+"mlp.up_proj", r+"mlp.up", &l.Up, f.mlpBias, "I", "D")...)
		s = append(s, lin(h+"mlp.down_proj", r+"mlp.down", &l.Down, f.mlpBias, "D", "I")...)
	}
	s = append(s, slot{name: p + "norm.weight", roles: []string{"final_norm.weight"}, ptrs: []*Tensor{&g.FinalNorm.W}, want: [][]dim{sh("D")}})
	if f.head {
		s = append(s, slot{name: "lm_head.weight", roles: []string{"head"}, ptrs: []*Tensor{&g.Head}, want: [][]dim{sh("V", "D")}})
	}
	return s
}

// llamaPrefix is the prefix the graph was read with, or the default of its
// architecture: none for the base models, "model." otherwise.
func (g *Graph) llamaPrefix() string {
	if g.names.set {
		return g.names.prefix
	}
	if g.Config != nil && archIs(g.Config, "LlamaModel", "MistralModel", "Qwen2Model") {
		return ""
	}
	return "model."
}

// llamaBiasFlags are the biases a model type's config implies.
func llamaBiasFlags(modelType string, attentionBias, mlpBias bool) flags {
	switch modelType {
	case "qwen2":
		return flags{qkvBias: true}
	case "mistral":
		return flags{}
	}
	return flags{qkvBias: attentionBias, oBias: attentionBias, mlpBias: mlpBias}
}

func llamaWriteFlags(g *Graph) (flags, error) {
	var f flags
	if g.modelType() == "llama" {
		// attention_bias covers q, k, v and o together.
		any := func(get func(l *Layer) Tensor) bool {
			for i := range g.Layers {
				if get(&g.Layers[i]) != nil {
					return true
				}
			}
			return false
		}
		attn := any(func(l *Layer) Tensor { return l.Q.B }) || any(func(l *Layer) Tensor { return l.K.B }) ||
			any(func(l *Layer) Tensor { return l.V.B }) || any(func(l *Layer) Tensor { return l.O.B })
		mlp := any(func(l *Layer) Tensor { return l.Up.B }) || any(func(l *Layer) Tensor { return l.Gate.B }) ||
			any(func(l *Layer) Tensor { return l.Down.B })
		f = llamaBiasFlags("llama", attn, mlp)
	} else {
		f = llamaBiasFlags(g.modelType(), false, false)
	}
	f.head = !g.Tied && !g.Headless
	return f, nil
}

func readLlama(g *Graph, s *source) error {
	cfg := s.ck.Config
	g.Family = FamilyLlama
	g.NormKind = RMSNorm
	g.RopeTheta = cfg.RopeTheta
	if cfg.RopeScaling != nil {
		g.RopeScaling = maps.Clone(cfg.RopeScaling)
	}
	switch {
	case s.has("model.embed_tokens.weight"):
		g.names = naming{prefix: "model.", set: true}
	case s.has("embed_tokens.weight"):
		g.names = naming{prefix: "", set: true}
	default:
		return fmt.Errorf("graph: %s: tensor \"model.embed_tokens.weight\" is missing: not a %s checkpoint", s.where(), cfg.ModelType)
	}
	p := g.names.prefix
	head, err := s.tieHead(g, "lm_head.weight", p+"embed_tokens.weight", p == "")
	if err != nil {
		return err
	}
	f := llamaBiasFlags(cfg.ModelType, cfg.AttentionBias, cfg.MLPBias)
	f.head = head
	if err := s.readSlots(g, llamaTable, f); err != nil {
		return err
	}
	q := regexp.QuoteMeta(p)
	extras := []extraRule{{re: regexp.MustCompile(`^` + q + `layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$`), role: "llama.rotary_inv_freq", rule: RuleDrop}}
	if err := s.takeExtras(g, extras, llamaTable.legend); err != nil {
		return err
	}
	return s.leftovers(g, "num_hidden_layers", func(name string) string {
		if strings.HasSuffix(name, "_proj.bias") {
			switch cfg.ModelType {
			case "llama":
				return fmt.Sprintf(" (a bias, but %s says attention_bias is %v and mlp_bias is %v)", s.cfg, cfg.AttentionBias, cfg.MLPBias)
			default:
				return fmt.Sprintf(" (a bias %s does not have)", cfg.ModelType)
			}
		}
		return ""
	})
}
