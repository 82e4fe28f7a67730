package graph

import (
	"fmt"
	"regexp"
)

// BERT (BertForMaskedLM, BertLMHeadModel, BertForPreTraining with the "bert."
// prefix; BertModel without it). Legacy LayerNorm.gamma/beta are read as
// weight/bias and written with the modern names.
//
//	embeddings.word_embeddings.weight [V, D]        embed
//	embeddings.position_embeddings.weight [P, D]    pos
//	embeddings.token_type_embeddings.weight [T, D]  token_type
//	embeddings.LayerNorm.{weight,bias} [D]          embed_norm
//	encoder.layer.i.attention.self.{query,key,value}.{weight [D, D], bias}  layers.i.attn.{q,k,v}
//	encoder.layer.i.attention.output.dense.{weight, bias}     layers.i.attn.o
//	encoder.layer.i.attention.output.LayerNorm.{weight, bias} layers.i.attn_norm (post-LN)
//	encoder.layer.i.intermediate.dense.{weight [I, D], bias}  layers.i.mlp.up
//	encoder.layer.i.output.dense.{weight [D, I], bias}        layers.i.mlp.down
//	encoder.layer.i.output.LayerNorm.{weight, bias}           layers.i.mlp_norm (post-LN)
//	cls.predictions.transform.dense.{weight [D, D], bias}     mlm.transform
//	cls.predictions.transform.LayerNorm.{weight, bias}        mlm.norm
//	cls.predictions.decoder.weight [V, D]                     head (absent or equal when tied)
//	cls.predictions.bias [V]                                  head.bias (or cls.predictions.decoder.bias)
//
// Beside an untied decoder.weight, head.bias is written a second time as
// cls.predictions.decoder.bias: transformers ties the two only while the
// decoder is tied to the embedding, and reports the bias missing otherwise.
//
// Extras: pooler.dense.{weight,bias} and cls.seq_relationship.weight [2, D] (rule
// "hidden"), cls.seq_relationship.bias (rule "copy"), embeddings.position_ids and
// embeddings.token_type_ids buffers (rule "copy"), a cls.predictions.decoder.bias
// equal to cls.predictions.bias (rule "drop").
var bertTable = &table{
	family: FamilyBERT,
	legend: map[string]string{"D": "hidden_size", "V": "vocab_size", "P": "max_position_embeddings",
		"T": "type_vocab_size", "I": "intermediate_size", "Hd": "hidden_size", "Kd": "hidden_size"},
	layout:     bertLayout,
	writeFlags: bertWriteFlags,
}

func bertLayout(g *Graph, f flags) []slot {
	p := g.bertPrefix()
	sh := g.shape
	one := func(name, role string, ptr *Tensor, want []dim) slot {
		return slot{name: name, roles: []string{role}, ptrs: []*Tensor{ptr}, want: [][]dim{want}}
	}
	norm := func(name, role string, n *Norm) []slot {
		return []slot{
			{name: name + ".weight", alt: name + ".gamma", roles: []string{role + ".weight"}, ptrs: []*Tensor{&n.W}, want: [][]dim{sh("D")}},
			{name: name + ".bias", alt: name + ".beta", roles: []string{role + ".bias"}, ptrs: []*Tensor{&n.B}, want: [][]dim{sh("D")}},
		}
	}
	lin := func(name, role string, l *Linear, out, in string) []slot {
		return []slot{one(name+".weight", role+".weight", &l.W, sh(out, in)), one(name+".bias", role+".bias", &l.B, sh(out))}
	}
	e := p + "embeddings."
	s := []slot{
		one(e+"word_embeddings.weight", "embed", &g.Embed, sh("V", "D")),
		one(e+"position_embeddings.weight", "pos", &g.Pos, sh("P", "D")),
		one(e+"token_type_embeddings.weight", "token_type", &g.TokenType, sh("T", "D")),
	}
	s = append(s, norm(e+"LayerNorm", "embed_norm", &g.EmbedNorm)...)
	for i := range g.Layers {
		l := &g.Layers[i]
		h := fmt.Sprintf("%sencoder.layer.%d.", p, i)
		r := fmt.Sprintf("layers.%d.", i)
		s = append(s, lin(h+"attention.self.query", r+"attn.q", &l.Q, "Hd", "D")...)
		s = append(s, lin(h+"attention.self.key", r+"attn.k", &l.K, "Kd", "D")...)
		s = append(s, lin(h+"attention.self.value", r+"attn.v", &l.V, "Kd", "D")...)
		s = append(s, lin(h+"attention.output.dense", r+"attn.o", &l.O, "D", "Hd")...)
		s = append(s, norm(h+"attention.output.LayerNorm", r+"attn_norm", &l.AttnNorm)...)
		s = append(s, lin(h+"intermediate.dense", r+"mlp.up", &l.Up, "I", "D")...)
		s = append(s, lin(h+"output.dense", r+"mlp.down", &l.Down, "D", "I")...)
		s = append(s, norm(h+"output.LayerNorm", r+"mlp_norm", &l.MLPNorm)...)
	}
	if f.mlm {
		s = append(s, lin("cls.predictions.transform.dense", "mlm.transform", &g.MLMTransform, "D", "D")...)
		s = append(s, norm("cls.predictions.transform.LayerNorm", "mlm.norm", &g.MLMNorm)...)
		if f.head {
			s = append(s, one("cls.predictions.decoder.weight", "head", &g.Head, sh("V", "D")))
		}
		hb := one("cls.predictions.bias", "head.bias", &g.HeadBias, sh("V"))
		hb.alt = "cls.predictions.decoder.bias"
		s = append(s, hb)
		if f.head && f.decoderBias {
			// transformers ties decoder.bias to cls.predictions.bias only
			// while the decoder is tied; an untied decoder needs its own.
			db := one("cls.predictions.decoder.bias", "head.bias", &g.HeadBias, sh("V"))
			db.copy = true
			s = append(s, db)
		}
	}
	return s
}

// bertPrefix is the prefix the graph was read with, or the default of its
// architecture: none for BertModel, "bert." otherwise.
func (g *Graph) bertPrefix() string {
	if g.names.set {
		return g.names.prefix
	}
	if g.Config != nil && archIs(g.Config, "BertModel") {
		return ""
	}
	return "bert."
}

func bertWriteFlags(g *Graph) (flags, error) {
	mlm := g.MLMTransform.W != nil || g.MLMNorm.W != nil || g.HeadBias != nil
	f := flags{mlm: mlm, head: mlm && !g.Tied}
	f.decoderBias = f.head
	if g.KVHeads != g.Heads {
		return f, fmt.Errorf("graph: BERT has no grouped-query attention: KVHeads %d ≠ Heads %d", g.KVHeads, g.Heads)
	}
	if g.Heads*g.HeadDim != g.Hidden {
		return f, fmt.Errorf("graph: BERT derives the head size as hidden_size/num_attention_heads: Heads %d × HeadDim %d ≠ Hidden %d", g.Heads, g.HeadDim, g.Hidden)
	}
	if g.Positions <= 0 || g.TypeVocab <= 0 {
		return f, fmt.Errorf("graph: Dims.Positions %d and Dims.TypeVocab %d must be positive for BERT", g.Positions, g.TypeVocab)
	}
	if g.Head != nil && !mlm {
		return f, fmt.Errorf("graph: a BERT Head needs the MLM head (MLMTransform, MLMNorm, HeadBias)")
	}
	return f, nil
}

func readBERT(g *Graph, s *source) error {
	cfg := s.ck.Config
	g.Family = FamilyBERT
	g.NormKind = LayerNorm
	g.PostLN = true
	switch {
	case s.has("bert.embeddings.word_embeddings.weight"):
		g.names = naming{prefix: "bert.", set: true}
	case s.has("embeddings.word_embeddings.weight"):
		g.names = naming{prefix: "", set: true}
	default:
		return fmt.Errorf("graph: %s: tensor \"bert.embeddings.word_embeddings.weight\" (or \"embeddings.word_embeddings.weight\") is missing: not a BERT checkpoint", s.where())
	}
	p := g.names.prefix
	mlm := s.has("cls.predictions.bias") || s.has("cls.predictions.transform.dense.weight") ||
		s.has("cls.predictions.decoder.weight") || s.has("cls.predictions.decoder.bias")
	f := flags{mlm: mlm}
	if mlm {
		head, err := s.tieHead(g, "cls.predictions.decoder.weight", p+"embeddings.word_embeddings.weight", false)
		if err != nil {
			return err
		}
		f.head = head
	} else {
		g.Tied = cfg.Tied
		g.Headless = true
	}
	if err := s.readSlots(g, bertTable, f); err != nil {
		return err
	}
	// A decoder.bias beside cls.predictions.bias is the same parameter in transformers.
	if db, ok := s.peek("cls.predictions.decoder.bias"); ok && g.HeadBias != nil {
		hb := g.HeadBias.(*View).Src
		eq, err := sameValues(hb, db)
		if err != nil {
			return err
		}
		if !eq {
			return fmt.Errorf("graph: %s: tensor %q differs from %q; transformers ties them", db.File, db.Name, hb.Name)
		}
		s.take(db.Name)
		g.Extras = append(g.Extras, Extra{Name: db.Name, Role: "head.bias.tied_copy", Rule: RuleDrop, T: NewView(db)})
	}
	q := regexp.QuoteMeta(p)
	D := func(g *Graph) []dim { return g.shape("D") }
	DD := func(g *Graph) []dim { return g.shape("D", "D") }
	extras := []extraRule{
		{re: regexp.MustCompile(`^` + q + `pooler\.dense\.weight$`), role: "bert.pooler.weight", rule: RuleHidden, want: DD},
		{re: regexp.MustCompile(`^` + q + `pooler\.dense\.bias$`), role: "bert.pooler.bias", rule: RuleHidden, want: D},
		{re: regexp.MustCompile(`^cls\.seq_relationship\.weight$`), role: "bert.nsp.weight", rule: RuleHidden,
			want: func(g *Graph) []dim { return g.shape("2", "D") }},
		{re: regexp.MustCompile(`^cls\.seq_relationship\.bias$`), role: "bert.nsp.bias", rule: RuleCopy,
			want: func(g *Graph) []dim { return g.shape("2") }},
		{re: regexp.MustCompile(`^` + q + `embeddings\.position_ids$`), role: "bert.position_ids", rule: RuleCopy},
		{re: regexp.MustCompile(`^` + q + `embeddings\.token_type_ids$`), role: "bert.token_type_ids", rule: RuleCopy},
	}
	if err := s.takeExtras(g, extras, bertTable.legend); err != nil {
		return err
	}
	return s.leftovers(g, "num_hidden_layers", nil)
}
