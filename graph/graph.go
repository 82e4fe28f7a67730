package graph

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
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
	case family.FusedConv1D, family.FusedRows:
		total := dim{}
		syms := make([]string, len(s.want))
		for i, w := range s.want {
			total.n += w[0].n
			syms[i] = w[0].sym
		}
		total.sym = strings.Join(syms, "+")
		if s.kind == family.FusedRows {
			return append([]dim{total}, s.want[0][1:]...)
		}
		return []dim{s.want[0][1], total}
	}
	return s.want[0]
}

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
		Act: normAct(cfg.Act),
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
	if err := readFamily(g, s, d); err != nil {
		return nil, err
	}
	return g, nil
}

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

func archIs(cfg *checkpoint.Config, names ...string) bool {
	for _, a := range cfg.Architectures {
		if slices.Contains(names, a) {
			return true
		}
	}
	return false
}

// fieldRoles lists every tensor field of the graph with its role name.
func (g *Graph) fieldRoles() ([]string, []*Tensor) {
	var roles []string
	var ptrs []*Tensor
	add := func(r string, p *Tensor) { roles = append(roles, r); ptrs = append(ptrs, p) }
	add("embed", &g.Embed)
	add("pos", &g.Pos)
	add("token_type", &g.TokenType)
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
		add(p+"mlp_norm.weight", &l.MLPNorm.W)
		add(p+"mlp_norm.bias", &l.MLPNorm.B)
		for _, x := range []struct {
			n string
			l *Linear
		}{{"mlp.up", &l.Up}, {"mlp.gate", &l.Gate}, {"mlp.down", &l.Down}} {
			add(p+x.n+".weight", &x.l.W)
			add(p+x.n+".bias", &x.l.B)
		}
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

// writeLayout checks a graph about to be written and returns its slots.
func (g *Graph) writeLayout() (*family.Descriptor, []slot, error) {
	d := g.Descriptor()
	if d == nil {
		return nil, nil, fmt.Errorf("graph: unknown family %q", g.modelType())
	}
	if len(g.Layers) != g.Dims.Layers {
		return nil, nil, fmt.Errorf("graph: %d layers, but Dims.Layers is %d", len(g.Layers), g.Dims.Layers)
	}
	for _, d := range []struct {
		n    string
		v    int
		need bool
	}{{"Hidden", g.Hidden, true}, {"Layers", g.Dims.Layers, true}, {"Heads", g.Heads, true},
		{"KVHeads", g.KVHeads, true}, {"HeadDim", g.HeadDim, true}, {"FFN", g.FFN, true}, {"Vocab", g.Vocab, true}} {
		if d.v <= 0 {
			return nil, nil, fmt.Errorf("graph: Dims.%s is %d; it must be positive", d.n, d.v)
		}
	}
	if g.Heads%g.KVHeads != 0 {
		return nil, nil, fmt.Errorf("graph: Dims.KVHeads %d does not divide Dims.Heads %d", g.KVHeads, g.Heads)
	}
	f, err := g.writeFlags(d)
	if err != nil {
		return nil, nil, err
	}
	if g.Tied && g.Head != nil {
		return nil, nil, errors.New("graph: the graph is tied but has a Head; set Head to nil or Tied to false")
	}
	if g.Headless && g.Head != nil {
		return nil, nil, errors.New("graph: the graph is headless (a base model) but has a Head")
	}
	slots := g.layout(d, f)
	covered := map[*Tensor]bool{}
	for _, sl := range slots {
		for _, p := range sl.ptrs {
			covered[p] = true
		}
	}
	roles, ptrs := g.fieldRoles()
	for i, p := range ptrs {
		if *p != nil && !covered[p] {
			return nil, nil, fmt.Errorf("graph: role %q is set, but a %s checkpoint (%s) has no tensor for it", roles[i], g.Family, g.modelType())
		}
	}
	return d, slots, nil
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

// Entries maps the graph back to the family's checkpoint tensor names, encoding
// every tensor as dtype dt ("" keeps each tensor's own dtype). Tensors that are
// unchanged views of a source tensor with the same dtype are byte-copied.
//
// Integer and BOOL extras (position_ids buffers) keep their dtype. GPT-2
// matrices are written back in the Conv1D [in, out] layout and q, k, v are fused
// into c_attn again; a c_attn whose q, k and v are the untouched views of one
// source tensor is byte-copied. Extras with rule "drop" are not written. Every
// tensor's shape is checked against Dims first; nothing is read until an
// Entry's Write runs.
func (g *Graph) Entries(dt checkpoint.DType) ([]checkpoint.Entry, error) {
	if dt != "" && !dt.IsFloat() {
		return nil, fmt.Errorf("graph: output dtype %q is not a float dtype", dt)
	}
	d, slots, err := g.writeLayout()
	if err != nil {
		return nil, err
	}
	var out []checkpoint.Entry
	seen := map[string]bool{}
	for i := range slots {
		sl := &slots[i]
		parts := make([]Tensor, len(sl.ptrs))
		n := 0
		for j, p := range sl.ptrs {
			parts[j] = *p
			if *p != nil {
				n++
			}
		}
		for j, p := range parts {
			if p == nil {
				return nil, fmt.Errorf("graph: role %q (tensor %q) is missing", sl.roles[j], sl.name)
			}
			if !dimsEqual(p.Shape(), sl.want[j]) {
				return nil, fmt.Errorf("graph: role %q (tensor %q) has shape %v, but the graph's dims imply %s", sl.roles[j], sl.name, p.Shape(), formatDims(sl.want[j], graphLegend))
			}
		}
		e, err := slotEntry(sl, parts, dt)
		if err != nil {
			return nil, err
		}
		seen[e.Name] = true
		out = append(out, e)
	}
	for _, x := range g.Extras {
		if x.Rule == RuleDrop {
			continue
		}
		if x.T == nil {
			return nil, fmt.Errorf("graph: extra %q (%s) has no tensor", x.Name, x.Role)
		}
		if err := g.checkExtra(x); err != nil {
			return nil, err
		}
		if seen[x.Name] {
			return nil, fmt.Errorf("graph: extra %q has the name of a %s tensor", x.Name, d.Family)
		}
		seen[x.Name] = true
		e, err := tensorEntry(x.Name, x.T, dt, false)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// graphLegend names the dims in errors about graphs (not configs).
var graphLegend = map[string]string{"D": "Hidden", "V": "Vocab", "P": "Positions", "T": "TypeVocab",
	"I": "FFN", "Hd": "Heads×HeadDim", "Kd": "KVHeads×HeadDim", "d": "HeadDim"}

// checkExtra checks an extra's shape against its rule.
func (g *Graph) checkExtra(x Extra) error {
	s := x.T.Shape()
	ok := true
	switch x.Rule {
	case RuleHidden:
		ok = (len(s) == 1 && s[0] == g.Hidden) || (len(s) == 2 && (s[0] == g.Hidden || s[1] == g.Hidden))
	case RuleCopy:
	default:
		return fmt.Errorf("graph: extra %q has unknown rule %q", x.Name, x.Rule)
	}
	if !ok {
		return fmt.Errorf("graph: extra %q (rule %q) has shape %v; Hidden is %d", x.Name, x.Rule, s, g.Hidden)
	}
	return nil
}

// target is the dtype a tensor of dtype own is written as.
func target(dt, own checkpoint.DType) checkpoint.DType {
	if dt == "" || !own.IsFloat() {
		return own
	}
	return dt
}

// wide reports whether tensors should be encoded from float64.
func wide(dt checkpoint.DType, ts ...Tensor) bool {
	if dt == checkpoint.F64 {
		return true
	}
	for _, t := range ts {
		if t.DType() == checkpoint.F64 {
			return true
		}
		if p, ok := t.(Float64Preferrer); ok && p.PrefersFloat64() {
			return true
		}
	}
	return false
}

// tensorEntry writes one graph tensor under name; transposed writes the
// [in, out] layout of a GPT-2 Conv1D matrix.
func tensorEntry(name string, t Tensor, dt checkpoint.DType, transposed bool) (checkpoint.Entry, error) {
	own := t.DType()
	to := target(dt, own)
	if v, ok := t.(*View); ok {
		if (!transposed && v.Whole()) || (transposed && v.Transposed && v.Hi == 0) {
			return checkpoint.ConvertEntry(v.Src, name, to), nil
		}
	}
	if !own.IsFloat() || !to.IsFloat() {
		return checkpoint.Entry{}, fmt.Errorf("graph: tensor %q: dtype %s is not a float dtype and it is not an unchanged source tensor", name, own)
	}
	shape := slices.Clone(t.Shape())
	if transposed {
		if len(shape) != 2 {
			return checkpoint.Entry{}, fmt.Errorf("graph: tensor %q: shape %v is not a matrix", name, shape)
		}
		rows, cols := shape[0], shape[1]
		shape = []int{cols, rows}
		if wide(dt, t) {
			return checkpoint.Float64Entry(name, to, shape, func() ([]float64, error) {
				d, err := checked(name, rows*cols, t.Float64)
				if err != nil {
					return nil, err
				}
				return transpose(d, rows, cols), nil
			}), nil
		}
		return checkpoint.Float32Entry(name, to, shape, func() ([]float32, error) {
			d, err := checked(name, rows*cols, t.Float32)
			if err != nil {
				return nil, err
			}
			return transpose(d, rows, cols), nil
		}), nil
	}
	n := checkpointNumel(shape)
	if wide(dt, t) {
		return checkpoint.Float64Entry(name, to, shape, func() ([]float64, error) { return checked(name, n, t.Float64) }), nil
	}
	return checkpoint.Float32Entry(name, to, shape, func() ([]float32, error) { return checked(name, n, t.Float32) }), nil
}

// checked calls get and checks the number of values.
func checked[T float32 | float64](name string, n int, get func() ([]T, error)) ([]T, error) {
	d, err := get()
	if err != nil {
		return nil, err
	}
	if len(d) != n {
		return nil, fmt.Errorf("graph: tensor %q: got %d values for %d elements", name, len(d), n)
	}
	return d, nil
}

// slotEntry writes one slot.
func slotEntry(sl *slot, parts []Tensor, dt checkpoint.DType) (checkpoint.Entry, error) {
	switch sl.kind {
	case family.Plain:
		return tensorEntry(sl.name, parts[0], dt, false)
	case family.Conv1D:
		return tensorEntry(sl.name, parts[0], dt, true)
	}
	// Fused: byte-copy when the parts are the source's consecutive views.
	if src := fusedSource(sl, parts); src != nil {
		return checkpoint.ConvertEntry(src, sl.name, target(dt, src.DType)), nil
	}
	own := parts[0].DType()
	to := target(dt, own)
	for _, p := range parts {
		if !p.DType().IsFloat() {
			return checkpoint.Entry{}, fmt.Errorf("graph: tensor %q: dtype %s is not a float dtype", sl.name, p.DType())
		}
	}
	stored := sl.stored()
	shape := make([]int, len(stored))
	for i, d := range stored {
		shape[i] = d.n
	}
	if wide(dt, parts...) {
		return checkpoint.Float64Entry(sl.name, to, shape, func() ([]float64, error) {
			return fuse(sl, parts, func(t Tensor) ([]float64, error) { return t.Float64() })
		}), nil
	}
	return checkpoint.Float32Entry(sl.name, to, shape, func() ([]float32, error) {
		return fuse(sl, parts, func(t Tensor) ([]float32, error) { return t.Float32() })
	}), nil
}

// fuse concatenates the parts' rows and, for a fused Conv1D, transposes the result.
func fuse[T float32 | float64](sl *slot, parts []Tensor, get func(Tensor) ([]T, error)) ([]T, error) {
	var cat []T
	rows := 0
	for i, p := range parts {
		n := checkpointNumel(p.Shape())
		d, err := checked(sl.name+" ("+sl.roles[i]+")", n, func() ([]T, error) { return get(p) })
		if err != nil {
			return nil, err
		}
		cat = append(cat, d...)
		rows += p.Shape()[0]
	}
	if sl.kind == family.FusedConv1D {
		cols := len(cat) / max(rows, 1)
		return transpose(cat, rows, cols), nil
	}
	return cat, nil
}

// fusedSource returns the source tensor when the parts are the consecutive,
// complete views of one source tensor laid out as the slot stores it.
func fusedSource(sl *slot, parts []Tensor) *checkpoint.Tensor {
	var src *checkpoint.Tensor
	lo := 0
	for _, p := range parts {
		v, ok := p.(*View)
		if !ok || v.Transposed != (sl.kind == family.FusedConv1D) || v.Lo != lo || v.Hi <= v.Lo {
			return nil
		}
		if src == nil {
			src = v.Src
		} else if v.Src != src {
			return nil
		}
		lo = v.Hi
	}
	if src == nil {
		return nil
	}
	full := src.Shape[0]
	if sl.kind == family.FusedConv1D {
		if len(src.Shape) != 2 {
			return nil
		}
		full = src.Shape[1]
	}
	if lo != full {
		return nil
	}
	return src
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
	if g.Act != "" && g.Act != normAct(c.Act) {
		c.Act = g.Act
	}
	c.Tied = g.Tied
	if d := g.Descriptor(); d != nil {
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
