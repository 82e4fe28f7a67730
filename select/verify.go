package selection

import (
	"fmt"
	"math"
	"slices"

	"github.com/grow-ml/grow/graph"
)

// Verify checks that every tensor of student is the teacher's at the index
// sets s, bit for bit: each student block is teacher block s.Layers[i], and
// each axis holds the teacher's entries at its set (whole heads of head_dim
// coordinates on the head axes); the axes the selection keeps (vocabulary,
// positions, head_dim) hold all of them. Family extras along the residual
// stream are checked the same way, the others must be equal.
func Verify(teacher, student *graph.Graph, s *Sets) error {
	d := teacher.Dims
	if len(student.Layers) != len(s.Layers) {
		return fmt.Errorf("verify: the student has %d blocks, the selection %d", len(student.Layers), len(s.Layers))
	}
	for _, l := range s.Layers {
		if l < 0 || l >= len(teacher.Layers) {
			return fmt.Errorf("verify: the selection names teacher block %d of %d", l, len(teacher.Layers))
		}
	}
	for _, set := range []PerLayer{s.Heads, s.KVHeads, s.FFN} {
		if len(set) != 1 && len(set) != len(s.Layers) {
			return fmt.Errorf("verify: %d per-layer sets for %d blocks", len(set), len(s.Layers))
		}
	}
	src := map[string]graph.Tensor{}
	for _, f := range teacher.Fields() {
		src[f.Role] = *f.T
	}
	heads := func(units []int) []int {
		out := make([]int, 0, len(units)*d.HeadDim)
		for _, u := range units {
			for j := 0; j < d.HeadDim; j++ {
				out = append(out, u*d.HeadDim+j)
			}
		}
		return out
	}
	index := func(a graph.Axis, layer int) []int {
		switch {
		case a == graph.Residual:
			return s.Hidden
		case a == graph.QHeads && layer >= 0:
			return heads(s.Heads.At(layer))
		case a == graph.KVHeads && layer >= 0:
			return heads(s.KVHeads.At(layer))
		case a == graph.FFN && layer >= 0:
			return s.FFN.At(layer)
		}
		return First(d.Size(a), d.Size(a))
	}
	for _, f := range student.Fields() {
		t := *f.T
		if t == nil {
			continue
		}
		decl, ok := graph.DeclOf(f.Role)
		if !ok {
			return fmt.Errorf("verify: role %s declares no axes", f.Role)
		}
		layer, name := graph.SplitRole(f.Role)
		from := f.Role
		if layer >= 0 {
			from = graph.LayerRole(s.Layers[layer], name)
		}
		tt := src[from]
		if f.Role == "head" && tt == nil && teacher.Tied {
			tt = teacher.Embed
		}
		if tt == nil {
			return fmt.Errorf("verify: student %s has no teacher tensor %s", f.Role, from)
		}
		var idx [][]int
		for _, a := range decl.Axes {
			idx = append(idx, index(a, layer))
		}
		if err := same(f.Role, from, t, tt, idx); err != nil {
			return err
		}
	}
	if len(student.Extras) != len(teacher.Extras) {
		return fmt.Errorf("verify: the student has %d extra tensors, the teacher %d", len(student.Extras), len(teacher.Extras))
	}
	for i, e := range student.Extras {
		te := teacher.Extras[i]
		if e.T == nil || te.T == nil || e.Rule == graph.RuleDrop {
			continue
		}
		var idx [][]int
		if dcl, ok := graph.ExtraDecl(te, d.Hidden); ok {
			for _, a := range dcl.Axes {
				idx = append(idx, index(a, -1))
			}
		} else {
			for _, n := range te.T.Shape() {
				idx = append(idx, First(n, n))
			}
		}
		if err := same("extra "+e.Name, "extra "+te.Name, e.T, te.T, idx); err != nil {
			return err
		}
	}
	return nil
}

// same checks that t is tt at the indices idx of each of its axes (one or
// two), bit for bit.
func same(role, from string, t, tt graph.Tensor, idx [][]int) error {
	want := make([]int, len(idx))
	for i, x := range idx {
		want[i] = len(x)
	}
	if !slices.Equal(t.Shape(), want) {
		return fmt.Errorf("verify: %s has shape %v, the selection gives %v", role, t.Shape(), want)
	}
	sv, err := t.Float64()
	if err != nil {
		return fmt.Errorf("verify: %s: %w", role, err)
	}
	tv, err := tt.Float64()
	if err != nil {
		return fmt.Errorf("verify: %s: %w", from, err)
	}
	sh := tt.Shape()
	switch len(idx) {
	case 1:
		for i, j := range idx[0] {
			if math.Float64bits(sv[i]) != math.Float64bits(tv[j]) {
				return fmt.Errorf("verify: %s[%d] = %g is not teacher %s[%d] = %g", role, i, sv[i], from, j, tv[j])
			}
		}
	case 2:
		n := len(idx[1])
		for i, r := range idx[0] {
			for k, c := range idx[1] {
				if math.Float64bits(sv[i*n+k]) != math.Float64bits(tv[r*sh[1]+c]) {
					return fmt.Errorf("verify: %s[%d][%d] = %g is not teacher %s[%d][%d] = %g", role, i, k, sv[i*n+k], from, r, c, tv[r*sh[1]+c])
				}
			}
		}
	default:
		return fmt.Errorf("verify: %s has %d axes", role, len(idx))
	}
	return nil
}
