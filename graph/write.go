package graph

import (
	"errors"
	"fmt"
	"slices"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph/family"
)

// This file maps a graph back to its family's checkpoint names and encodes
// its tensors for writing.

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
	if sl.kind == family.FusedHeads {
		if _, err := sl.unitRows(); err != nil {
			return checkpoint.Entry{}, fmt.Errorf("graph: tensor %q: %v", sl.name, err)
		}
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

// fuse concatenates the parts' rows (FusedHeads: interleaved per key/value
// head) and, for a fused Conv1D, transposes the result.
func fuse[T float32 | float64](sl *slot, parts []Tensor, get func(Tensor) ([]T, error)) ([]T, error) {
	var cat []T
	rows := 0
	data := make([][]T, len(parts))
	for i, p := range parts {
		n := checkpointNumel(p.Shape())
		d, err := checked(sl.name+" ("+sl.roles[i]+")", n, func() ([]T, error) { return get(p) })
		if err != nil {
			return nil, err
		}
		data[i] = d
		cat = append(cat, d...)
		rows += p.Shape()[0]
	}
	switch sl.kind {
	case family.FusedConv1D:
		cols := len(cat) / max(rows, 1)
		return transpose(cat, rows, cols), nil
	case family.FusedHeads:
		// unit u's rows of every part in turn
		cat = cat[:0]
		for u := 0; u < sl.units; u++ {
			for _, d := range data {
				w := len(d) / sl.units
				cat = append(cat, d[u*w:(u+1)*w]...)
			}
		}
	}
	return cat, nil
}

// fusedSource returns the source tensor when the parts are the consecutive,
// complete views of one source tensor laid out as the slot stores it.
func fusedSource(sl *slot, parts []Tensor) *checkpoint.Tensor {
	var src *checkpoint.Tensor
	lo, stride := 0, 0
	if sl.kind == family.FusedHeads {
		stride, _ = sl.unitRows()
	}
	for _, p := range parts {
		v, ok := p.(*View)
		if !ok || v.Transposed != (sl.kind == family.FusedConv1D) || v.Lo != lo || v.Hi <= v.Lo || v.Stride != stride {
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
	if stride > 0 {
		full = stride
	}
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
