package graph

import (
	"fmt"
	"regexp"
)

// GPT-2 (GPT2LMHeadModel, GPT2Model), names with or without the "transformer."
// prefix:
//
//	wte.weight [V, D]                      embed
//	wpe.weight [P, D]                      pos
//	h.i.ln_1.{weight,bias} [D]             layers.i.attn_norm
//	h.i.attn.c_attn.weight [D, 3D]         layers.i.attn.{q,k,v}.weight (Conv1D, fused)
//	h.i.attn.c_attn.bias [3D]              layers.i.attn.{q,k,v}.bias
//	h.i.attn.c_proj.{weight [D, D], bias}  layers.i.attn.o (Conv1D)
//	h.i.ln_2.{weight,bias} [D]             layers.i.mlp_norm
//	h.i.mlp.c_fc.{weight [D, I], bias}     layers.i.mlp.up (Conv1D)
//	h.i.mlp.c_proj.{weight [I, D], bias}   layers.i.mlp.down (Conv1D)
//	ln_f.{weight,bias} [D]                 final_norm
//	lm_head.weight [V, D]                  head (absent or equal to wte when tied)
//
// Extras: h.i.attn.bias and h.i.attn.masked_bias (causal-mask buffers of old
// checkpoints, rule "drop": transformers no longer loads them).
var gpt2Table = &table{
	family: FamilyGPT2,
	legend: map[string]string{"D": "n_embd", "V": "vocab_size", "P": "n_positions", "I": "n_inner",
		"Hd": "n_embd", "Kd": "n_embd"},
	layout:     gpt2Layout,
	writeFlags: gpt2WriteFlags,
}

func gpt2Layout(g *Graph, f flags) []slot {
	p := g.gpt2Prefix()
	sh := g.shape
	s := []slot{
		{name: p + "wte.weight", roles: []string{"embed"}, ptrs: []*Tensor{&g.Embed}, want: [][]dim{sh("V", "D")}},
		{name: p + "wpe.weight", roles: []string{"pos"}, ptrs: []*Tensor{&g.Pos}, want: [][]dim{sh("P", "D")}},
	}
	for i := range g.Layers {
		l := &g.Layers[i]
		h := fmt.Sprintf("%sh.%d.", p, i)
		r := fmt.Sprintf("layers.%d.", i)
		s = append(s,
			slot{name: h + "ln_1.weight", roles: []string{r + "attn_norm.weight"}, ptrs: []*Tensor{&l.AttnNorm.W}, want: [][]dim{sh("D")}},
			slot{name: h + "ln_1.bias", roles: []string{r + "attn_norm.bias"}, ptrs: []*Tensor{&l.AttnNorm.B}, want: [][]dim{sh("D")}},
			slot{name: h + "attn.c_attn.weight", kind: slotFusedConv,
				roles: []string{r + "attn.q.weight", r + "attn.k.weight", r + "attn.v.weight"},
				ptrs:  []*Tensor{&l.Q.W, &l.K.W, &l.V.W},
				want:  [][]dim{sh("Hd", "D"), sh("Kd", "D"), sh("Kd", "D")}},
			slot{name: h + "attn.c_attn.bias", kind: slotFusedVec,
				roles: []string{r + "attn.q.bias", r + "attn.k.bias", r + "attn.v.bias"},
				ptrs:  []*Tensor{&l.Q.B, &l.K.B, &l.V.B},
				want:  [][]dim{sh("Hd"), sh("Kd"), sh("Kd")}},
			slot{name: h + "attn.c_proj.weight", kind: slotConv, roles: []string{r + "attn.o.weight"}, ptrs: []*Tensor{&l.O.W}, want: [][]dim{sh("D", "Hd")}},
			slot{name: h + "attn.c_proj.bias", roles: []string{r + "attn.o.bias"}, ptrs: []*Tensor{&l.O.B}, want: [][]dim{sh("D")}},
			slot{name: h + "ln_2.weight", roles: []string{r + "mlp_norm.weight"}, ptrs: []*Tensor{&l.MLPNorm.W}, want: [][]dim{sh("D")}},
			slot{name: h + "ln_2.bias", roles: []string{r + "mlp_norm.bias"}, ptrs: []*Tensor{&l.MLPNorm.B}, want: [][]dim{sh("D")}},
			slot{name: h + "mlp.c_fc.weight", kind: slotConv, roles: []string{r + "mlp.up.weight"}, ptrs: []*Tensor{&l.Up.W}, want: [][]dim{sh("I", "D")}},
			slot{name: h + "mlp.c_fc.bias", roles: []string{r + "mlp.up.bias"}, ptrs: []*Tensor{&l.Up.B}, want: [][]dim{sh("I")}},
			slot{name: h + "mlp.c_proj.weight", kind: slotConv, roles: []string{r + "mlp.down.weight"}, ptrs: []*Tensor{&l.Down.W}, want: [][]dim{sh("D", "I")}},
			slot{name: h + "mlp.c_proj.bias", roles: []string{r + "mlp.down.bias"}, ptrs: []*Tensor{&l.Down.B}, want: [][]dim{sh("D")}},
		)
	}
	s = append(s,
		slot{name: p + "ln_f.weight", roles: []string{"final_norm.weight"}, ptrs: []*Tensor{&g.FinalNorm.W}, want: [][]dim{sh("D")}},
		slot{name: p + "ln_f.bias", roles: []string{"final_norm.bias"}, ptrs: []*Tensor{&g.FinalNorm.B}, want: [][]dim{sh("D")}},
	)
	if f.head {
		s = append(s, slot{name: "lm_head.weight", roles: []string{"head"}, ptrs: []*Tensor{&g.Head}, want: [][]dim{sh("V", "D")}})
	}
	return s
}

// gpt2Prefix is the prefix the graph was read with, or the default of its
// architecture: none for GPT2Model, "transformer." otherwise.
func (g *Graph) gpt2Prefix() string {
	if g.names.set {
		return g.names.prefix
	}
	if g.Config != nil && archIs(g.Config, "GPT2Model") {
		return ""
	}
	return "transformer."
}

func gpt2WriteFlags(g *Graph) (flags, error) {
	f := flags{head: !g.Tied && !g.Headless}
	if g.KVHeads != g.Heads {
		return f, fmt.Errorf("graph: GPT-2 has no grouped-query attention: KVHeads %d ≠ Heads %d", g.KVHeads, g.Heads)
	}
	if g.Heads*g.HeadDim != g.Hidden {
		return f, fmt.Errorf("graph: GPT-2 derives head_dim as n_embd/n_head: Heads %d × HeadDim %d ≠ Hidden %d", g.Heads, g.HeadDim, g.Hidden)
	}
	if g.Positions <= 0 {
		return f, fmt.Errorf("graph: Dims.Positions is %d; GPT-2 needs its learned positions", g.Positions)
	}
	return f, nil
}

var gpt2Extras = func(p string) []extraRule {
	q := regexp.QuoteMeta(p)
	return []extraRule{
		{re: regexp.MustCompile(`^` + q + `h\.(\d+)\.attn\.bias$`), role: "gpt2.attn.mask", rule: RuleDrop},
		{re: regexp.MustCompile(`^` + q + `h\.(\d+)\.attn\.masked_bias$`), role: "gpt2.attn.masked_bias", rule: RuleDrop},
	}
}

func readGPT2(g *Graph, s *source) error {
	g.Family = FamilyGPT2
	g.NormKind = LayerNorm
	switch {
	case s.has("transformer.wte.weight"):
		g.names = naming{prefix: "transformer.", set: true}
	case s.has("wte.weight"):
		g.names = naming{prefix: "", set: true}
	default:
		return fmt.Errorf("graph: %s: tensor \"transformer.wte.weight\" (or \"wte.weight\") is missing: not a GPT-2 checkpoint", s.where())
	}
	p := g.names.prefix
	head, err := s.tieHead(g, "lm_head.weight", p+"wte.weight", archIs(s.ck.Config, "GPT2Model"))
	if err != nil {
		return err
	}
	if err := s.readSlots(g, gpt2Table, flags{head: head}); err != nil {
		return err
	}
	if err := s.takeExtras(g, gpt2Extras(p), gpt2Table.legend); err != nil {
		return err
	}
	return s.leftovers(g, "n_layer", nil)
}
