package family

// BERT (BertForMaskedLM, BertLMHeadModel, BertForPreTraining with the "bert."
// prefix; BertModel without it and without the masked-LM head). Legacy
// LayerNorm.gamma/beta are read as weight/bias and written with the modern
// names.
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
// embeddings.token_type_ids buffers (rule "copy").
var bert = &Descriptor{
	ModelType:   "bert",
	Family:      "bert",
	Name:        "BERT",
	ConfigClass: "BertConfig",
	Config: Config{
		Hidden:           []string{"hidden_size"},
		Layers:           []string{"num_hidden_layers"},
		Heads:            []string{"num_attention_heads"},
		FFN:              []string{"intermediate_size"},
		Vocab:            []string{"vocab_size"},
		Positions:        []string{"max_position_embeddings"},
		PositionsDefault: 512,
		TypeVocab:        []string{"type_vocab_size"},
		TypeVocabDefault: 2,
		NormEps:          []string{"layer_norm_eps"},
		NormEpsDefault:   1e-12,
		Act:              []string{"hidden_act"},
		ActDefault:       "gelu",
		TiedDefault:      true,
	},
	Features: Features{
		Norm:            LayerNorm,
		PostLN:          true,
		EmbedNorm:       true,
		Positions:       Learned,
		TokenTypes:      true,
		Biases:          Biases{QKV: BiasAlways, O: BiasAlways, MLP: BiasAlways},
		HeadDim:         Derived,
		MLMHead:         true,
		PositionTypeKey: "position_embedding_type",
		Start:           StartToken{Key: "cls_token_id", Default: 101, Text: "[CLS]"},
	},
	Tensors: Tensors{
		Prefixes:          []string{"bert.", ""},
		Embed:             "embeddings.word_embeddings.weight",
		Base:              BaseByHeadTensors,
		BaseArchitectures: []string{"BertModel"},
		Head:              "cls.predictions.decoder.weight",
		Layer:             "encoder.layer.%d.",
		Top: []Tensor{
			{Name: "embeddings.word_embeddings.weight", Roles: []string{"embed"}},
			{Name: "embeddings.position_embeddings.weight", Roles: []string{"pos"}},
			{Name: "embeddings.token_type_embeddings.weight", Roles: []string{"token_type"}},
			{Name: "embeddings.LayerNorm.weight", Alt: "embeddings.LayerNorm.gamma", Roles: []string{"embed_norm.weight"}},
			{Name: "embeddings.LayerNorm.bias", Alt: "embeddings.LayerNorm.beta", Roles: []string{"embed_norm.bias"}},
		},
		PerLayer: []Tensor{
			{Name: "attention.self.query.weight", Roles: []string{"attn.q.weight"}},
			{Name: "attention.self.query.bias", Roles: []string{"attn.q.bias"}},
			{Name: "attention.self.key.weight", Roles: []string{"attn.k.weight"}},
			{Name: "attention.self.key.bias", Roles: []string{"attn.k.bias"}},
			{Name: "attention.self.value.weight", Roles: []string{"attn.v.weight"}},
			{Name: "attention.self.value.bias", Roles: []string{"attn.v.bias"}},
			{Name: "attention.output.dense.weight", Roles: []string{"attn.o.weight"}},
			{Name: "attention.output.dense.bias", Roles: []string{"attn.o.bias"}},
			{Name: "attention.output.LayerNorm.weight", Alt: "attention.output.LayerNorm.gamma", Roles: []string{"attn_norm.weight"}},
			{Name: "attention.output.LayerNorm.bias", Alt: "attention.output.LayerNorm.beta", Roles: []string{"attn_norm.bias"}},
			{Name: "intermediate.dense.weight", Roles: []string{"mlp.up.weight"}},
			{Name: "intermediate.dense.bias", Roles: []string{"mlp.up.bias"}},
			{Name: "output.dense.weight", Roles: []string{"mlp.down.weight"}},
			{Name: "output.dense.bias", Roles: []string{"mlp.down.bias"}},
			{Name: "output.LayerNorm.weight", Alt: "output.LayerNorm.gamma", Roles: []string{"mlp_norm.weight"}},
			{Name: "output.LayerNorm.bias", Alt: "output.LayerNorm.beta", Roles: []string{"mlp_norm.bias"}},
		},
		Bottom: []Tensor{
			{Name: "cls.predictions.transform.dense.weight", Global: true, Roles: []string{"mlm.transform.weight"}, When: WhenMLM},
			{Name: "cls.predictions.transform.dense.bias", Global: true, Roles: []string{"mlm.transform.bias"}, When: WhenMLM},
			{Name: "cls.predictions.transform.LayerNorm.weight", Alt: "cls.predictions.transform.LayerNorm.gamma", Global: true, Roles: []string{"mlm.norm.weight"}, When: WhenMLM},
			{Name: "cls.predictions.transform.LayerNorm.bias", Alt: "cls.predictions.transform.LayerNorm.beta", Global: true, Roles: []string{"mlm.norm.bias"}, When: WhenMLM},
			{Name: "cls.predictions.decoder.weight", Global: true, Roles: []string{"head"}, When: WhenHead},
			{Name: "cls.predictions.bias", Alt: "cls.predictions.decoder.bias", AltTiedCopy: true, Global: true, Roles: []string{"head.bias"}, When: WhenMLM},
			{Name: "cls.predictions.decoder.bias", Global: true, Roles: []string{"head.bias"}, When: WhenHead, Copy: true},
		},
		Extras: []Extra{
			{Pattern: `pooler\.dense\.weight`, Role: "bert.pooler.weight", Rule: RuleHidden, Shape: []string{"D", "D"}},
			{Pattern: `pooler\.dense\.bias`, Role: "bert.pooler.bias", Rule: RuleHidden, Shape: []string{"D"}},
			{Pattern: `cls\.seq_relationship\.weight`, Global: true, Role: "bert.nsp.weight", Rule: RuleHidden, Shape: []string{"2", "D"}},
			{Pattern: `cls\.seq_relationship\.bias`, Global: true, Role: "bert.nsp.bias", Rule: RuleCopy, Shape: []string{"2"}},
			{Pattern: `embeddings\.position_ids`, Role: "bert.position_ids", Rule: RuleCopy},
			{Pattern: `embeddings\.token_type_ids`, Role: "bert.token_type_ids", Rule: RuleCopy},
		},
	},
}

func init() { register(bert) }
