package graph

import (
	"slices"
	"testing"

	"github.com/grow-ml/grow/graph/family"
)

// Every role a registered descriptor names is a field of the graph with a
// known shape, and no role is held by two tensors.
func TestDescriptorRolesAreGraphRoles(t *testing.T) {
	g := &Graph{Layers: make([]Layer, 2)}
	fields := g.fieldMap()
	for _, mt := range family.ModelTypes() {
		d, _ := family.Lookup(mt)
		held := map[string]string{}
		check := func(x family.Tensor, layer bool) {
			for _, r := range x.Roles {
				name := r
				if layer {
					name = "layers.0." + r
				}
				if fields[name] == nil {
					t.Errorf("%s: tensor %q: role %q is no field of the graph", mt, x.Name, r)
				}
				if roleShape(r) == nil {
					t.Errorf("%s: tensor %q: role %q has no shape", mt, x.Name, r)
				}
				if prev, dup := held[name]; dup && !x.Copy {
					t.Errorf("%s: role %q held by %q and %q", mt, r, prev, x.Name)
				}
				held[name] = x.Name
			}
		}
		for _, x := range slices.Concat(d.Tensors.Top, d.Tensors.Bottom) {
			check(x, false)
		}
		for _, x := range d.Tensors.PerLayer {
			check(x, true)
		}
	}
}

// The layer-index expression of each family finds the index in its names.
func TestLayerIndex(t *testing.T) {
	for _, tc := range []struct{ modelType, name, want string }{
		{"gpt2", "transformer.h.12.attn.bias", "12"},
		{"gpt2", "h.3.mlp.c_fc.weight", "3"},
		{"llama", "model.layers.7.mlp.up_proj.weight", "7"},
		{"bert", "bert.encoder.layer.4.output.dense.bias", "4"},
		{"bert", "bert.pooler.dense.weight", ""},
	} {
		d, _ := family.Lookup(tc.modelType)
		got := ""
		if m := layerIndex(d).FindStringSubmatch(tc.name); m != nil {
			got = m[1]
		}
		if got != tc.want {
			t.Errorf("%s %q: layer %q, want %q", tc.modelType, tc.name, got, tc.want)
		}
	}
}
