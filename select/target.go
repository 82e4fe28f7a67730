package selection

import (
	"fmt"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/graph/family"
)

// Target are the student's sizes. A zero size keeps the teacher's, or follows
// the hidden width: heads in proportion at the same head_dim (whole
// key/value groups of the teacher's size where it has grouped-query
// attention), the FFN width in proportion.
type Target struct {
	Hidden, Heads, KVHeads, FFN, Layers int
}

// TargetOf reads a student's sizes from its config (student.json): it must be
// of the teacher's model type, with its vocabulary and head_dim.
func TargetOf(c *checkpoint.Config, teacher *graph.Graph) (Target, error) {
	name := c.Name
	if tc := teacher.Config; tc != nil && c.ModelType != tc.ModelType {
		return Target{}, fmt.Errorf("%s: model_type %q, the teacher's is %q (weight selection keeps the architecture)", name, c.ModelType, tc.ModelType)
	}
	if c.Vocab != 0 && c.Vocab != teacher.Vocab {
		return Target{}, fmt.Errorf("%s: vocab_size %d, the teacher's is %d (grow shrink keeps the vocabulary)", name, c.Vocab, teacher.Vocab)
	}
	if c.HeadDim != 0 && c.HeadDim != teacher.HeadDim {
		return Target{}, fmt.Errorf("%s: head_dim %d, the teacher's is %d (whole heads are selected, so head_dim stays)", name, c.HeadDim, teacher.HeadDim)
	}
	return Target{Hidden: c.Hidden, Heads: c.Heads, KVHeads: c.KVHeads, FFN: c.FFN, Layers: c.Layers}, nil
}

// Resolve returns the student's dims for the teacher g, or why they cannot
// be selected from it: every size at most the teacher's, whole heads of the
// teacher's head_dim, whole key/value groups with at most the teacher's query
// heads per group, and the config class's own constraints.
func (t Target) Resolve(g *graph.Graph) (graph.Dims, error) {
	d := g.Dims
	for _, f := range []struct {
		flag    string
		v, have int
	}{{"--hidden", t.Hidden, d.Hidden}, {"--heads", t.Heads, d.Heads}, {"--kv-heads", t.KVHeads, d.KVHeads},
		{"--ffn", t.FFN, d.FFN}, {"--layers", t.Layers, d.Layers}} {
		switch {
		case f.v < 0:
			return d, fmt.Errorf("%s %d: want a positive size (0 or absent: derived from the teacher's)", f.flag, f.v)
		case f.v > f.have:
			return d, fmt.Errorf("%s %d is larger than the teacher's %d (grow shrink selects; grow expand grows)", f.flag, f.v, f.have)
		}
	}
	s := d
	if t.Hidden != 0 {
		s.Hidden = t.Hidden
	}
	derived := g.Features().HeadDim == family.Derived
	gq := d.Heads / d.KVHeads // query heads per key/value group
	switch {
	case t.Heads != 0:
		s.Heads = t.Heads
	case derived:
		if s.Hidden%d.HeadDim != 0 {
			return d, fmt.Errorf("--hidden %d is not a multiple of head_dim %d: %s derives head_dim = hidden/heads, and whole heads are selected (pick a multiple of %d)", s.Hidden, d.HeadDim, g.Family, d.HeadDim)
		}
		s.Heads = s.Hidden / d.HeadDim
	case s.Hidden != d.Hidden:
		h := max(d.Heads*s.Hidden/d.Hidden, 1)
		found := 0
		for ; h >= 1; h-- {
			if (d.KVHeads == 1 || h%gq == 0) && (!headsDivideHidden(g) || s.Hidden%h == 0) {
				found = h
				break
			}
		}
		if found == 0 {
			return d, fmt.Errorf("no head count keeps whole key/value groups of %d heads for --hidden %d; give --heads and --kv-heads", gq, s.Hidden)
		}
		s.Heads = found
	}
	if derived && s.Heads*d.HeadDim != s.Hidden {
		return d, fmt.Errorf("%d heads × head_dim %d = %d, not the hidden width %d: %s derives head_dim = hidden/heads, and whole heads are selected", s.Heads, d.HeadDim, s.Heads*d.HeadDim, s.Hidden, g.Family)
	}
	if headsDivideHidden(g) && s.Hidden%s.Heads != 0 {
		desc := g.Descriptor()
		return d, fmt.Errorf("%d heads do not divide the hidden width %d: transformers' %s (model_type %s) refuses such a config", s.Heads, s.Hidden, desc.ConfigClass, desc.ModelType)
	}
	switch {
	case !g.Features().GQA:
		if t.KVHeads != 0 && t.KVHeads != s.Heads {
			return d, fmt.Errorf("%s has no grouped-query attention: --kv-heads must equal the heads (%d), not %d", g.Family, s.Heads, t.KVHeads)
		}
		s.KVHeads = s.Heads
	case t.KVHeads != 0:
		s.KVHeads = t.KVHeads
	case d.KVHeads == 1:
		s.KVHeads = 1
	case s.Heads%gq == 0:
		s.KVHeads = s.Heads / gq
	default:
		return d, fmt.Errorf("%d heads are not whole groups of the teacher's %d query heads per key/value head; give --kv-heads", s.Heads, gq)
	}
	if s.Heads%s.KVHeads != 0 {
		return d, fmt.Errorf("%d heads do not divide into %d key/value heads", s.Heads, s.KVHeads)
	}
	if g2 := s.Heads / s.KVHeads; g2 > gq {
		return d, fmt.Errorf("%d heads over %d key/value heads is %d per group, but a teacher group has %d: each student group's query heads must come from the one teacher group whose keys and values it keeps (give more --kv-heads or fewer --heads)", s.Heads, s.KVHeads, g2, gq)
	}
	if s.KVHeads > d.KVHeads {
		return d, fmt.Errorf("%d key/value heads, more than the teacher's %d", s.KVHeads, d.KVHeads)
	}
	if t.FFN != 0 {
		s.FFN = t.FFN
	} else if s.Hidden != d.Hidden {
		s.FFN = max(d.FFN*s.Hidden/d.Hidden, 1)
	}
	if t.Layers != 0 {
		s.Layers = t.Layers
	}
	return s, nil
}

// headsDivideHidden reports whether g's transformers config class requires
// hidden_size % num_attention_heads == 0 whatever head_dim says.
func headsDivideHidden(g *graph.Graph) bool {
	desc := g.Descriptor()
	return g.Config != nil && desc != nil && desc.Constraints.HeadsDivideHidden
}
