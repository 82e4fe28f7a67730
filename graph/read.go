package graph

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph/family"
)

// This file reads a checkpoint into a graph: every tensor must land in a role
// or an extra rule, checked against the config's dims.

// source is a checkpoint being read into a graph: every tensor must be taken.
type source struct {
	ck     *checkpoint.Checkpoint
	cfg    string // config file name for messages
	byName map[string]*checkpoint.Tensor
	used   map[string]bool
}

func newSource(c *checkpoint.Checkpoint) (*source, error) {
	s := &source{ck: c, cfg: c.Config.Name, byName: map[string]*checkpoint.Tensor{}, used: map[string]bool{}}
	if s.cfg == "" {
		s.cfg = "config.json"
	}
	for _, t := range c.Tensors {
		if prev, dup := s.byName[t.Name]; dup {
			return nil, fmt.Errorf("graph: tensor %q is in both %s and %s", t.Name, prev.File, t.File)
		}
		s.byName[t.Name] = t
	}
	return s, nil
}

func (s *source) has(name string) bool { _, ok := s.byName[name]; return ok && !s.used[name] }

func (s *source) peek(name string) (*checkpoint.Tensor, bool) {
	t, ok := s.byName[name]
	if !ok || s.used[name] {
		return nil, false
	}
	return t, true
}

func (s *source) take(name string) (*checkpoint.Tensor, bool) {
	t, ok := s.peek(name)
	if ok {
		s.used[name] = true
	}
	return t, ok
}

// where names the checkpoint in messages.
func (s *source) where() string { return s.ck.Path }

// assign reads one slot from the checkpoint into the graph.
func (s *source) assign(sl *slot, legend map[string]string) error {
	t, ok := s.take(sl.name)
	if !ok && sl.alt != "" {
		t, ok = s.take(sl.alt)
	}
	if !ok {
		return fmt.Errorf("graph: %s: tensor %q is missing (the %s table needs it for %s)", s.where(), sl.name, s.ck.Config.ModelType, strings.Join(sl.roles, ", "))
	}
	want := sl.stored()
	if !dimsEqual(t.Shape, want) {
		return fmt.Errorf("graph: %s: tensor %q has shape %v, but %s implies %s", t.File, t.Name, t.Shape, s.cfg, formatDims(want, legend))
	}
	if !t.DType.IsFloat() {
		return fmt.Errorf("graph: %s: tensor %q has dtype %s; a weight must be F64, F32, F16 or BF16", t.File, t.Name, t.DType)
	}
	switch sl.kind {
	case family.Plain:
		*sl.ptrs[0] = NewView(t)
	case family.Conv1D:
		*sl.ptrs[0] = &View{Src: t, Transposed: true}
	case family.FusedConv1D, family.FusedRows:
		lo := 0
		for i, p := range sl.ptrs {
			n := sl.want[i][0].n
			*p = &View{Src: t, Transposed: sl.kind == family.FusedConv1D, Lo: lo, Hi: lo + n}
			lo += n
		}
	case family.FusedHeads:
		stride, err := sl.unitRows()
		if err != nil {
			return fmt.Errorf("graph: %s: tensor %q: %v", t.File, t.Name, err)
		}
		lo := 0
		for i, p := range sl.ptrs {
			n := sl.want[i][0].n / sl.units
			*p = &View{Src: t, Lo: lo, Hi: lo + n, Stride: stride}
			lo += n
		}
	}
	return nil
}

// extraRule matches family extras by name.
type extraRule struct {
	re   *regexp.Regexp // submatch 1, when present, is a layer index
	role string
	rule string
	want func(g *Graph) []dim // nil: any shape
}

// takeExtras moves every remaining tensor that an extra rule matches into g.Extras.
func (s *source) takeExtras(g *Graph, rules []extraRule, legend map[string]string) error {
	for _, t := range s.ck.Tensors {
		if s.used[t.Name] {
			continue
		}
		for _, r := range rules {
			m := r.re.FindStringSubmatch(t.Name)
			if m == nil {
				continue
			}
			if len(m) > 1 {
				if i, err := strconv.Atoi(m[1]); err != nil || i >= g.Dims.Layers {
					continue
				}
			}
			if r.want != nil {
				if w := r.want(g); !dimsEqual(t.Shape, w) {
					return fmt.Errorf("graph: %s: tensor %q has shape %v, but %s implies %s", t.File, t.Name, t.Shape, s.cfg, formatDims(w, legend))
				}
			}
			s.used[t.Name] = true
			g.Extras = append(g.Extras, Extra{Name: t.Name, Role: r.role, Rule: r.rule, T: NewView(t)})
			break
		}
	}
	return nil
}

// leftovers returns an error naming the tensors no role or rule took.
func (s *source) leftovers(g *Graph, d *family.Descriptor, hint func(name string) string) error {
	var names []*checkpoint.Tensor
	for _, t := range s.ck.Tensors {
		if !s.used[t.Name] {
			names = append(names, t)
		}
	}
	if len(names) == 0 {
		return nil
	}
	t := names[0]
	why := ""
	if m := layerIndex(d).FindStringSubmatch(t.Name); m != nil {
		if i, err := strconv.Atoi(m[1]); err == nil && i >= g.Dims.Layers {
			why = fmt.Sprintf(" (layer %d, but %s says %s is %d)", i, s.cfg, d.Config.Layers[0], g.Dims.Layers)
		}
	}
	if why == "" && hint != nil {
		why = hint(t.Name)
	}
	more := ""
	if len(names) > 1 {
		list := make([]string, 0, 3)
		for _, o := range names[1:min(len(names), 4)] {
			list = append(list, strconv.Quote(o.Name))
		}
		more = fmt.Sprintf("; %d more unknown: %s", len(names)-1, strings.Join(list, ", "))
		if len(names) > 4 {
			more += ", ..."
		}
	}
	return fmt.Errorf("graph: %s: tensor %q fits no role of the %s table%s%s", t.File, t.Name, s.ck.Config.ModelType, why, more)
}

// sameValues reports whether two checkpoint tensors hold the same values.
func sameValues(a, b *checkpoint.Tensor) (bool, error) {
	if !slices.Equal(a.Shape, b.Shape) {
		return false, nil
	}
	if a.DType == b.DType {
		x, err := a.Bytes()
		if err != nil {
			return false, err
		}
		y, err := b.Bytes()
		if err != nil {
			return false, err
		}
		return bytes.Equal(x, y), nil
	}
	x, err := a.Float64()
	if err != nil {
		return false, err
	}
	y, err := b.Float64()
	if err != nil {
		return false, err
	}
	return slices.Equal(x, y), nil
}

// tieHead applies the config's tie_word_embeddings to a checkpoint's head
// tensor: it reports whether an untied head is present and sets g.Tied and
// g.Headless. A head present in a tied model must equal the embedding; it is
// then kept as an Extra with rule "drop" (transformers ties it again on load).
func (s *source) tieHead(g *Graph, headName, embedName string, base bool) (bool, error) {
	cfg := s.ck.Config
	g.Tied = cfg.Tied
	ht, present := s.peek(headName)
	if !present {
		if base {
			g.Headless = true
			return false, nil
		}
		if !cfg.Tied {
			if _, written := cfg.Get("tie_word_embeddings"); !written {
				return false, fmt.Errorf("graph: %s: tensor %q is missing, and %s has no tie_word_embeddings: transformers' default for %s is false (it would initialize a random head)", s.where(), headName, s.cfg, cfg.ModelType)
			}
			return false, fmt.Errorf("graph: %s: tensor %q is missing, and %s says tie_word_embeddings is false (transformers would initialize a random head)", s.where(), headName, s.cfg)
		}
		return false, nil
	}
	if !cfg.Tied {
		return true, nil
	}
	et, ok := s.peek(embedName)
	if !ok {
		return false, fmt.Errorf("graph: %s: tensor %q is missing", s.where(), embedName)
	}
	eq, err := sameValues(et, ht)
	if err != nil {
		return false, err
	}
	if !eq {
		return false, fmt.Errorf("graph: %s: tensor %q differs from %q, but %s says tie_word_embeddings is true", ht.File, headName, embedName, s.cfg)
	}
	s.take(headName)
	g.Extras = append(g.Extras, Extra{Name: headName, Role: "head.tied_copy", Rule: RuleDrop, T: NewView(ht)})
	return false, nil
}

// FromCheckpoint builds the graph of an open checkpoint. Every tensor lands in
// exactly one role or Extra rule; a tensor that fits none is an error naming it,
// and so is a config that disagrees with the tensors.
//
// Weights are lazy Views of the checkpoint's tensors: nothing is read except
// when a tied head must be compared with the embedding.
func FromCheckpoint(c *checkpoint.Checkpoint) (*Graph, error) {
	if c == nil {
		return nil, errors.New("graph: nil checkpoint")
	}
	if c.Config == nil {
		return nil, fmt.Errorf("graph: %s: no config.json; a bare safetensors file has no model family (put it in a directory with its config.json)", c.Path)
	}
	cfg := c.Config
	// Every layer has several tensors; a larger layer count cannot match (and
	// must not size an allocation).
	if cfg.Layers > len(c.Tensors) {
		return nil, fmt.Errorf("graph: %s: %s says %d layers, but the checkpoint has only %d tensors", c.Path, cfg.Name, cfg.Layers, len(c.Tensors))
	}
	g := &Graph{
		Config: cfg,
		Dims: Dims{
			Hidden: cfg.Hidden, Layers: cfg.Layers, Heads: cfg.Heads, KVHeads: cfg.KVHeads,
			HeadDim: cfg.HeadDim, FFN: cfg.FFN, Vocab: cfg.Vocab, Positions: cfg.MaxPositions,
			TypeVocab: cfg.TypeVocab,
		},
		Eps: cfg.NormEps,
	}
	g.Layers = make([]Layer, cfg.Layers)
	s, err := newSource(c)
	if err != nil {
		return nil, err
	}
	d, ok := family.Lookup(cfg.ModelType)
	if !ok {
		return nil, fmt.Errorf("graph: %s: model_type %q is not supported", s.cfg, cfg.ModelType)
	}
	g.Act = actOf(d, cfg.Act)
	if err := readFamily(g, s, d); err != nil {
		return nil, err
	}
	return g, nil
}

// ActName returns the graph's spelling (Graph.Act) of an activation as a
// config of family d spells it, through the family's aliases (GemmaConfig
// reads a legacy "gelu" as the tanh GELU): "gelu_new" (tanh GELU), "gelu"
// (exact), "silu"; others pass through.
func ActName(d *family.Descriptor, a string) string { return actOf(d, a) }

// normAct maps activation spellings to the graph's: "gelu_new" (tanh GELU),
// "gelu" (exact), "silu"; others pass through.
func normAct(a string) string {
	switch a {
	case "gelu_pytorch_tanh", "gelu_fast":
		return "gelu_new"
	case "swish":
		return "silu"
	}
	return a
}

// actOf maps a config's activation to the graph's spelling, through the
// family's aliases (GemmaConfig's legacy "gelu" is the tanh GELU).
func actOf(d *family.Descriptor, a string) string {
	if to, ok := d.Config.ActAliases[a]; ok {
		a = to
	}
	return normAct(a)
}

func archIs(cfg *checkpoint.Config, names ...string) bool {
	for _, a := range cfg.Architectures {
		if slices.Contains(names, a) {
			return true
		}
	}
	return false
}
