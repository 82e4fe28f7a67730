package graph

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"strings"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph/family"
)

// This file turns a family descriptor's tensor table into the slots of one
// graph (reading and writing) and reads a checkpoint with it.

// Descriptor returns the family descriptor of the graph: that of its
// config's model_type, or of its Family when it has no config; nil when grow
// does not know it. Callers must not modify it.
func (g *Graph) Descriptor() *family.Descriptor {
	d, _ := family.Lookup(g.modelType())
	return d
}

// Features returns the features of the graph's family (the zero Features
// when the family is unknown).
func (g *Graph) Features() family.Features {
	if d := g.Descriptor(); d != nil {
		return d.Features
	}
	return family.Features{}
}

// RotaryDim returns how many dims of each head RoPE rotates: the first
// int(HeadDim × fraction), with the graph's RotaryFraction or, when that is 0,
// its family's; 0 without rotary positions. transformers truncates the
// product the same way.
func (g *Graph) RotaryDim() int {
	ft := g.Features()
	if ft.Positions != family.Rotary {
		return 0
	}
	f := g.RotaryFraction
	if f == 0 {
		f = ft.RotaryFraction
	}
	return int(float64(g.HeadDim) * f)
}

func (g *Graph) modelType() string {
	if g.Config != nil {
		return g.Config.ModelType
	}
	return string(g.Family)
}

// flags decide which optional tensors of a family's table a layout contains.
type flags struct {
	head    bool // an untied output head is written
	mlm     bool // BERT's masked-LM head
	qkvBias bool
	oBias   bool
	mlpBias bool
}

// has reports whether tensors present under condition w are in the layout.
func (f flags) has(w family.When) bool {
	switch w {
	case family.Always:
		return true
	case family.WhenHead:
		return f.head
	case family.WhenMLM:
		return f.mlm
	case family.WhenQKVBias:
		return f.qkvBias
	case family.WhenOBias:
		return f.oBias
	case family.WhenMLPBias:
		return f.mlpBias
	}
	return false
}

// biasFlags sets the bias flags from the family's rules; attn and mlp are the
// states of the config's bias switches.
func (f *flags) biasFlags(b family.Biases, attn, mlp bool) {
	on := func(r family.Bias) bool {
		switch r {
		case family.BiasAlways:
			return true
		case family.BiasIfAttention:
			return attn
		case family.BiasIfMLP:
			return mlp
		}
		return false
	}
	f.qkvBias, f.oBias, f.mlpBias = on(b.QKV), on(b.O), on(b.MLP)
}

// roleShape returns the shape of a role in dimension symbols (its declared
// axes); role is the role without the "layers.i." of a layer's roles. It
// returns nil for a role the graph does not have.
func roleShape(role string) []string {
	d, ok := decls[role]
	if !ok {
		return nil
	}
	out := make([]string, len(d.Axes))
	for i, a := range d.Axes {
		out[i] = string(a)
	}
	return out
}

// prefix is the backbone prefix the graph was read with, or the default of
// its architecture: none for a base model's architecture, the family's
// first prefix otherwise.
func (g *Graph) prefix(d *family.Descriptor) string {
	if g.names.set {
		return g.names.prefix
	}
	if g.Config != nil && archIs(g.Config, d.Tensors.BaseArchitectures...) {
		return d.Tensors.BasePrefix
	}
	return d.Tensors.Prefixes[0]
}

// layout returns the slots of the family's table that flags f select, with
// the graph fields they map to.
func (g *Graph) layout(d *family.Descriptor, f flags) []slot {
	p := g.prefix(d)
	fields := g.fieldMap()
	var out []slot
	add := func(t family.Tensor, names, roles string) {
		if !f.has(t.When) {
			return
		}
		if t.Global {
			names = ""
		}
		sl := slot{name: names + t.Name, kind: t.Stored, copy: t.Copy, tiedAlt: t.AltTiedCopy, units: g.KVHeads}
		if t.Alt != "" {
			sl.alt = names + t.Alt
		}
		for _, r := range t.Roles {
			sl.roles = append(sl.roles, roles+r)
			sl.ptrs = append(sl.ptrs, fields[roles+r])
			sl.want = append(sl.want, g.shape(roleShape(r)...))
		}
		out = append(out, sl)
	}
	for _, t := range d.Tensors.Top {
		add(t, p, "")
	}
	for i := range g.Layers {
		names := p + fmt.Sprintf(d.Tensors.Layer, i)
		roles := fmt.Sprintf("layers.%d.", i)
		for _, t := range d.Tensors.PerLayer {
			add(t, names, roles)
		}
	}
	for _, t := range d.Tensors.Bottom {
		add(t, p, "")
	}
	return out
}

// fieldMap maps every role of the graph to its field.
func (g *Graph) fieldMap() map[string]*Tensor {
	roles, ptrs := g.fieldRoles()
	m := make(map[string]*Tensor, len(roles))
	for i, r := range roles {
		m[r] = ptrs[i]
	}
	return m
}

// writeFlags computes the layout flags of a graph about to be written and
// checks the dims against the family's features.
func (g *Graph) writeFlags(d *family.Descriptor) (flags, error) {
	ft := d.Features
	var f flags
	if ft.MLMHead {
		f.mlm = g.MLMTransform.W != nil || g.MLMNorm.W != nil || g.HeadBias != nil
	}
	f.head = !g.Tied && !g.Headless && (!ft.MLMHead || f.mlm)
	attn, mlp := g.hasBiases()
	f.biasFlags(ft.Biases, attn, mlp)
	if !ft.GQA && g.KVHeads != g.Heads {
		return f, fmt.Errorf("graph: %s has no grouped-query attention: KVHeads %d ≠ Heads %d", d.Name, g.KVHeads, g.Heads)
	}
	if ft.HeadDim == family.Derived && g.Heads*g.HeadDim != g.Hidden {
		return f, fmt.Errorf("graph: %s derives head_dim as %s/%s: Heads %d × HeadDim %d ≠ Hidden %d",
			d.Name, d.Config.Hidden[0], d.Config.Heads[0], g.Heads, g.HeadDim, g.Hidden)
	}
	if ft.Positions == family.Learned && g.Positions <= 0 {
		return f, fmt.Errorf("graph: Dims.Positions is %d; %s needs its learned positions", g.Positions, d.Name)
	}
	if ft.TokenTypes && g.TypeVocab <= 0 {
		return f, fmt.Errorf("graph: Dims.TypeVocab is %d; %s needs its token type embeddings", g.TypeVocab, d.Name)
	}
	if ft.MLMHead && g.Head != nil && !f.mlm {
		return f, fmt.Errorf("graph: a %s Head needs the MLM head (MLMTransform, MLMNorm, HeadBias)", d.Name)
	}
	return f, nil
}

// hasBiases reports whether any layer has an attention bias (q, k, v or o)
// and whether any has an MLP bias (up, gate or down): the states of a
// family's bias switches that a written config must state.
func (g *Graph) hasBiases() (attn, mlp bool) {
	for i := range g.Layers {
		l := &g.Layers[i]
		attn = attn || l.Q.B != nil || l.K.B != nil || l.V.B != nil || l.O.B != nil
		mlp = mlp || l.Up.B != nil || l.Gate.B != nil || l.Down.B != nil
	}
	return attn, mlp
}

// readFamily reads a checkpoint of family d into g: the prefix, the output
// head and its tie, every slot, the tied copies, the extras; a tensor left
// over is an error.
func readFamily(g *Graph, s *source, d *family.Descriptor) error {
	cfg := s.ck.Config
	ft := d.Features
	g.Family = Family(d.Family)
	g.NormKind = ft.Norm
	g.PostLN = ft.PostLN
	g.ParallelResidual = cfg.ParallelResidual
	if ft.Positions == family.Rotary {
		g.RopeTheta = cfg.RopeTheta
		g.RotaryFraction = cfg.RotaryFraction
		if cfg.RopeScaling != nil {
			g.RopeScaling = maps.Clone(cfg.RopeScaling)
		}
	}
	if err := s.findPrefix(g, d); err != nil {
		return err
	}
	f, err := s.readHead(g, d)
	if err != nil {
		return err
	}
	f.biasFlags(ft.Biases, cfg.AttentionBias, cfg.MLPBias)
	slots := g.layout(d, f)
	legend := d.Legend()
	for i := range slots {
		if slots[i].copy {
			continue // written, not read: a tied copy of another slot's tensor
		}
		if err := s.assign(&slots[i], legend); err != nil {
			return err
		}
	}
	if err := s.takeTiedCopies(g, slots); err != nil {
		return err
	}
	if err := s.takeExtras(g, extraRules(d, g.names.prefix), legend); err != nil {
		return err
	}
	return s.leftovers(g, d, biasHint(d, s))
}

// findPrefix sets the backbone prefix under which the checkpoint holds the
// family's embedding.
func (s *source) findPrefix(g *Graph, d *family.Descriptor) error {
	var tried []string
	for _, p := range d.Tensors.Prefixes {
		if s.has(p + d.Tensors.Embed) {
			g.names = naming{prefix: p, set: true}
			return nil
		}
		tried = append(tried, fmt.Sprintf("%q", p+d.Tensors.Embed))
	}
	names := tried[0]
	if len(tried) > 1 {
		names += " (or " + strings.Join(tried[1:], ", ") + ")"
	}
	return fmt.Errorf("graph: %s: tensor %s is missing: not a %s checkpoint", s.where(), names, d.Name)
}

// readHead decides whether the checkpoint has an output head and whether it
// is tied, and returns the flags of the head's tensors.
func (s *source) readHead(g *Graph, d *family.Descriptor) (flags, error) {
	var f flags
	t := d.Tensors
	embed := g.names.prefix + t.Embed
	var base bool
	switch t.Base {
	case family.BaseByHeadTensors:
		f.mlm = s.hasHeadTensor(d, g.names.prefix)
		if !f.mlm {
			g.Tied = s.ck.Config.Tied
			g.Headless = true
			return f, nil
		}
	case family.BaseByPrefix:
		base = g.names.prefix == t.BasePrefix
	default:
		base = archIs(s.ck.Config, t.BaseArchitectures...)
	}
	head, err := s.tieHead(g, t.Head, embed, base)
	f.head = head
	return f, err
}

// hasHeadTensor reports whether any tensor of the family's optional head
// (WhenHead, WhenMLM) is present under its name or its legacy spelling.
func (s *source) hasHeadTensor(d *family.Descriptor, prefix string) bool {
	for _, list := range [][]family.Tensor{d.Tensors.Top, d.Tensors.Bottom} {
		for _, t := range list {
			if t.When != family.WhenHead && t.When != family.WhenMLM {
				continue
			}
			p := prefix
			if t.Global {
				p = ""
			}
			if s.has(p+t.Name) || (t.Alt != "" && s.has(p+t.Alt)) {
				return true
			}
		}
	}
	return false
}

// takeTiedCopies drops the legacy spellings that transformers ties to a slot
// read under its own name (BERT's cls.predictions.decoder.bias beside
// cls.predictions.bias); a copy that differs is an error.
func (s *source) takeTiedCopies(g *Graph, slots []slot) error {
	for _, sl := range slots {
		if !sl.tiedAlt || sl.alt == "" {
			continue
		}
		dup, ok := s.peek(sl.alt)
		if !ok || *sl.ptrs[0] == nil {
			continue
		}
		v, ok := (*sl.ptrs[0]).(*View)
		if !ok {
			continue
		}
		eq, err := sameValues(v.Src, dup)
		if err != nil {
			return err
		}
		if !eq {
			return fmt.Errorf("graph: %s: tensor %q differs from %q; transformers ties them", dup.File, dup.Name, v.Src.Name)
		}
		s.take(dup.Name)
		g.Extras = append(g.Extras, Extra{Name: dup.Name, Role: sl.roles[0] + ".tied_copy", Rule: RuleDrop, T: NewView(dup)})
	}
	return nil
}

// extraRules compiles the family's extras for a checkpoint with prefix p.
func extraRules(d *family.Descriptor, p string) []extraRule {
	q := regexp.QuoteMeta(p)
	out := make([]extraRule, len(d.Tensors.Extras))
	for i, e := range d.Tensors.Extras {
		pre := q
		if e.Global {
			pre = ""
		}
		out[i] = extraRule{re: regexp.MustCompile(`^` + pre + e.Pattern + `$`), role: e.Role, rule: e.Rule}
		if e.Shape != nil {
			shape := e.Shape
			out[i].want = func(g *Graph) []dim { return g.shape(shape...) }
		}
	}
	return out
}

// biasHint explains a bias left over in a family whose biases depend on the
// model type or on the config's switches.
func biasHint(d *family.Descriptor, s *source) func(name string) string {
	b := d.Features.Biases
	if b.QKV == family.BiasAlways && b.O == family.BiasAlways && b.MLP == family.BiasAlways {
		return nil
	}
	cfg := s.ck.Config
	var switches []string
	for _, sw := range []struct {
		key string
		on  bool
	}{{d.Config.AttentionBias, cfg.AttentionBias}, {d.Config.MLPBias, cfg.MLPBias}} {
		if sw.key != "" {
			switches = append(switches, fmt.Sprintf("%s is %v", sw.key, sw.on))
		}
	}
	return func(name string) string {
		if !strings.HasSuffix(name, ".bias") {
			return ""
		}
		if len(switches) > 0 {
			return fmt.Sprintf(" (a bias, but %s says %s)", s.cfg, strings.Join(switches, " and "))
		}
		return fmt.Sprintf(" (a bias %s does not have)", cfg.ModelType)
	}
}

// layerIndex returns the expression that finds a layer index in a tensor
// name of family d.
func layerIndex(d *family.Descriptor) *regexp.Regexp {
	q := strings.Replace(regexp.QuoteMeta(d.Tensors.Layer), "%d", `(\d+)`, 1)
	return regexp.MustCompile(`(?:^|\.)` + q)
}

// EmbedScale returns the factor the forward pass multiplies the token
// embeddings by: for a family with Features.EmbedScale (Gemma),
// sqrt(Hidden) rounded to the model's dtype (the config's dtype, else the
// embedding's), as transformers computes its normalizer; 1 otherwise.
func (g *Graph) EmbedScale() float64 {
	if !g.Features().EmbedScale {
		return 1
	}
	dt := checkpoint.F64
	if g.Embed != nil {
		dt = g.Embed.DType()
	}
	if g.Config != nil {
		if c, err := checkpoint.ParseDType(g.Config.DType); err == nil && c.IsFloat() {
			dt = c
		}
	}
	return EmbedNormalizer(g.Hidden, dt)
}

// EmbedNormalizer returns sqrt(hidden) rounded to the float dtype dt (F64
// keeps it), the embedding scale of a model of that width and dtype
// (Gemma's normalizer: 45.25 for 2048 in BF16).
func EmbedNormalizer(hidden int, dt checkpoint.DType) float64 {
	v := math.Sqrt(float64(hidden))
	if !dt.IsFloat() || dt == checkpoint.F64 {
		return v
	}
	b := make([]byte, dt.Size())
	out := make([]float64, 1)
	if checkpoint.EncodeFloat64(b, []float64{v}, dt) != nil || checkpoint.DecodeFloat64(out, b, dt) != nil {
		return v
	}
	return out[0]
}

// Distinctive lists, in words, what the graph's forward pass does beyond a
// plain pre-LN transformer block of its norm kind: what grow inspect shows
// of a family (norm form and placement, QK-norm, parallel blocks, the
// embedding scale, partial rotary, OPT's position offset).
func (g *Graph) Distinctive() []string {
	ft := g.Features()
	var out []string
	if g.PostLN {
		out = append(out, "post-LN: each block normalises the stream after adding to it")
	}
	if ft.NormPlusOne {
		out = append(out, "norm gains applied as 1 + w")
	}
	if ft.BlockNorms == family.NormsOut {
		out = append(out, "each sublayer's output normalised before it is added (no norm before a sublayer)")
	}
	switch {
	case ft.QKNorm && ft.QKNormWhole:
		out = append(out, "queries and keys normalised over their whole projections")
	case ft.QKNorm:
		out = append(out, "queries and keys normalised per head")
	}
	if g.ParallelResidual {
		out = append(out, "attention and MLP in parallel on each block's input")
	}
	if s := g.EmbedScale(); s != 1 {
		out = append(out, fmt.Sprintf("embeddings × sqrt(hidden_size) = %g", s))
	}
	if r := g.RotaryDim(); r > 0 && r != g.HeadDim {
		out = append(out, fmt.Sprintf("rotary positions on %d of each head's %d dims", r, g.HeadDim))
	}
	if g.PosPad != nil {
		out = append(out, "learned positions offset by 2 (two rows before position 0)")
	}
	return out
}
