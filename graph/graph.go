package graph

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph/family"
)

// Extra rules (see Extra.Rule).
const (
	RuleHidden = family.RuleHidden
	RuleCopy   = family.RuleCopy
	RuleDrop   = family.RuleDrop
)

// naming is how a graph's tensors are named in its family: the prefix of the
// backbone's names ("transformer." or "" for GPT-2, "model." or "" for LLaMA,
// "bert." or "" for BERT).
type naming struct {
	prefix string
	set    bool
}

// dim is one expected axis length with the symbol that explains it in errors.
type dim struct {
	n   int
	sym string
}

// slot is one checkpoint tensor of a family table and the graph fields it maps to.
type slot struct {
	name  string // the name written (modern spelling)
	alt   string // a legacy spelling accepted on read (LayerNorm gamma/beta), or ""
	kind  family.Storage
	roles []string  // one role per part
	ptrs  []*Tensor // the graph fields, one per part
	want  [][]dim   // the logical (graph) shape of each part
	// copy marks a second name under which a tensor of another slot is
	// written (BERT's decoder.bias); it is no role of its own.
	copy bool
	// tiedAlt: alt may appear beside name as a tied copy (family.Tensor.AltTiedCopy).
	tiedAlt bool
	// units is the number of key/value heads a FusedHeads tensor
	// interleaves its parts over.
	units int
}

// dim returns the dimension of a symbol: D, V, P, T, I, Hd (H·d), Kd (K·d),
// d or a number.
func (g *Graph) dim(sym string) dim {
	switch sym {
	case "D":
		return dim{g.Hidden, sym}
	case "V":
		return dim{g.Vocab, sym}
	case "P":
		return dim{g.Positions, sym}
	case "T":
		return dim{g.TypeVocab, sym}
	case "I":
		return dim{g.FFN, sym}
	case "Hd":
		return dim{g.Heads * g.HeadDim, sym}
	case "Kd":
		return dim{g.KVHeads * g.HeadDim, sym}
	case "d":
		return dim{g.HeadDim, sym}
	}
	n, _ := strconv.Atoi(sym)
	return dim{n, ""}
}

// shape builds an expected shape from symbols.
func (g *Graph) shape(syms ...string) []dim {
	out := make([]dim, len(syms))
	for i, s := range syms {
		out[i] = g.dim(s)
	}
	return out
}

func dimsEqual(shape []int, want []dim) bool {
	if len(shape) != len(want) {
		return false
	}
	for i, d := range want {
		if shape[i] != d.n {
			return false
		}
	}
	return true
}

// formatDims writes an expected shape with the config keys that imply it.
func formatDims(want []dim, legend map[string]string) string {
	parts := make([]string, len(want))
	for i, d := range want {
		if key := legend[d.sym]; key != "" {
			parts[i] = fmt.Sprintf("%s=%d", key, d.n)
		} else {
			parts[i] = strconv.Itoa(d.n)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// stored returns the shape a slot's checkpoint tensor has.
func (s *slot) stored() []dim {
	switch s.kind {
	case family.Conv1D:
		w := s.want[0]
		return []dim{w[1], w[0]}
	case family.FusedConv1D, family.FusedRows, family.FusedHeads:
		total := dim{}
		syms := make([]string, len(s.want))
		for i, w := range s.want {
			total.n += w[0].n
			syms[i] = w[0].sym
		}
		total.sym = strings.Join(syms, "+")
		if s.kind != family.FusedConv1D {
			return append([]dim{total}, s.want[0][1:]...)
		}
		return []dim{s.want[0][1], total}
	}
	return s.want[0]
}

// fieldRoles lists every tensor field of the graph with its role name.
func (g *Graph) fieldRoles() ([]string, []*Tensor) {
	var roles []string
	var ptrs []*Tensor
	add := func(r string, p *Tensor) { roles = append(roles, r); ptrs = append(ptrs, p) }
	add("embed", &g.Embed)
	add("pos", &g.Pos)
	add("token_type", &g.TokenType)
	add("pos_pad", &g.PosPad)
	add("embed_norm.weight", &g.EmbedNorm.W)
	add("embed_norm.bias", &g.EmbedNorm.B)
	for i := range g.Layers {
		l := &g.Layers[i]
		p := fmt.Sprintf("layers.%d.", i)
		add(p+"attn_norm.weight", &l.AttnNorm.W)
		add(p+"attn_norm.bias", &l.AttnNorm.B)
		for _, x := range []struct {
			n string
			l *Linear
		}{{"attn.q", &l.Q}, {"attn.k", &l.K}, {"attn.v", &l.V}, {"attn.o", &l.O}} {
			add(p+x.n+".weight", &x.l.W)
			add(p+x.n+".bias", &x.l.B)
		}
		add(p+"attn.q_norm.weight", &l.QNorm.W)
		add(p+"attn.q_norm.bias", &l.QNorm.B)
		add(p+"attn.k_norm.weight", &l.KNorm.W)
		add(p+"attn.k_norm.bias", &l.KNorm.B)
		add(p+"attn.q_proj_norm.weight", &l.QProjNorm.W)
		add(p+"attn.q_proj_norm.bias", &l.QProjNorm.B)
		add(p+"attn.k_proj_norm.weight", &l.KProjNorm.W)
		add(p+"attn.k_proj_norm.bias", &l.KProjNorm.B)
		add(p+"attn_out_norm.weight", &l.AttnOutNorm.W)
		add(p+"attn_out_norm.bias", &l.AttnOutNorm.B)
		add(p+"mlp_norm.weight", &l.MLPNorm.W)
		add(p+"mlp_norm.bias", &l.MLPNorm.B)
		for _, x := range []struct {
			n string
			l *Linear
		}{{"mlp.up", &l.Up}, {"mlp.gate", &l.Gate}, {"mlp.down", &l.Down}} {
			add(p+x.n+".weight", &x.l.W)
			add(p+x.n+".bias", &x.l.B)
		}
		add(p+"mlp_out_norm.weight", &l.MLPOutNorm.W)
		add(p+"mlp_out_norm.bias", &l.MLPOutNorm.B)
	}
	add("final_norm.weight", &g.FinalNorm.W)
	add("final_norm.bias", &g.FinalNorm.B)
	add("head", &g.Head)
	add("head.bias", &g.HeadBias)
	add("mlm.transform.weight", &g.MLMTransform.W)
	add("mlm.transform.bias", &g.MLMTransform.B)
	add("mlm.norm.weight", &g.MLMNorm.W)
	add("mlm.norm.bias", &g.MLMNorm.B)
	return roles, ptrs
}

// Roles lists every tensor of the graph with its role, in a stable order: the
// common roles in the family table's order, then the extras. Names are the
// checkpoint names the graph reads from and writes to (a fused GPT-2 c_attn
// appears under the q, k and v roles).
func (g *Graph) Roles() []Role {
	d := g.Descriptor()
	if d == nil {
		return nil
	}
	f, _ := g.writeFlags(d)
	var out []Role
	for _, sl := range g.layout(d, f) {
		if sl.copy {
			continue
		}
		for i, p := range sl.ptrs {
			if *p != nil {
				out = append(out, Role{Role: sl.roles[i], Names: []string{sl.name}, T: *p, AsIs: sl.kind == family.Plain})
			}
		}
	}
	for _, e := range g.Extras {
		out = append(out, Role{Role: e.Role, Names: []string{e.Name}, T: e.T, Rule: e.Rule, AsIs: true})
	}
	return out
}

// OutputConfig returns a copy of g.Config with the graph's dims, eps and tie flag
// written in (what an operator writes next to its output). The dtype is the
// embedding's; the LLaMA attention_bias and mlp_bias follow the graph's biases.
// It returns nil when the graph has no config.
func (g *Graph) OutputConfig() *checkpoint.Config {
	if g.Config == nil {
		return nil
	}
	c := g.Config.Clone()
	c.Hidden, c.Layers, c.Heads, c.KVHeads, c.HeadDim = g.Hidden, g.Dims.Layers, g.Heads, g.KVHeads, g.HeadDim
	c.FFN, c.Vocab = g.FFN, g.Vocab
	if g.Positions > 0 {
		c.MaxPositions = g.Positions
	}
	if g.TypeVocab > 0 {
		c.TypeVocab = g.TypeVocab
	}
	if g.Eps > 0 {
		c.NormEps = g.Eps
	}
	d := g.Descriptor()
	if g.Act != "" && (d == nil || g.Act != actOf(d, c.Act)) {
		c.Act = g.Act
	}
	c.Tied = g.Tied
	c.ParallelResidual = g.ParallelResidual
	if d != nil {
		if d.Features.Positions == family.Rotary {
			if g.RopeTheta > 0 {
				c.RopeTheta = g.RopeTheta
			}
			c.RopeScaling = maps.Clone(g.RopeScaling)
			if g.RotaryFraction > 0 {
				c.RotaryFraction = g.RotaryFraction
			}
		}
		// A config with bias switches states the biases the graph has.
		attn, mlp := g.hasBiases()
		if d.Config.AttentionBias != "" {
			c.AttentionBias = attn
		}
		if d.Config.MLPBias != "" {
			c.MLPBias = mlp
		}
	}
	if g.Embed != nil {
		if s := checkpoint.TorchDType(g.Embed.DType()); s != "" {
			c.DType = s
		}
	}
	return c
}

// unitRows returns the rows of one key/value head's unit of a FusedHeads
// slot (Σ part rows / units), or an error when a part's rows do not divide
// among the units.
func (s *slot) unitRows() (int, error) {
	if s.units <= 0 {
		return 0, fmt.Errorf("%d key/value heads to interleave over", s.units)
	}
	n := 0
	for i, w := range s.want {
		if w[0].n%s.units != 0 {
			return 0, fmt.Errorf("%s has %d rows, not a multiple of the %d key/value heads it interleaves over", s.roles[i], w[0].n, s.units)
		}
		n += w[0].n / s.units
	}
	return n, nil
}
