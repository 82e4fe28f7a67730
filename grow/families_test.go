package grow_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/internal/reference"
	"github.com/grow-ml/grow/transform"
)

// The plans the engine cannot yet make exact for a family's features are
// option errors that say why (grow/families.go); the others run. When the
// engine learns a rule, its cases move from refused to run.
func TestFamilyRefusals(t *testing.T) {
	gemma := reference.Synth(reference.Spec{ModelType: "gemma", D: 16, L: 2, H: 4, K: 2, HeadDim: 6, I: 24, V: 40, Tied: true})
	olmo2 := reference.Synth(reference.Spec{ModelType: "olmo2", D: 32, L: 2, H: 4, K: 2, I: 48, V: 40})
	opt := reference.Synth(reference.Spec{ModelType: "opt", D: 32, L: 2, H: 4, I: 48, V: 40, P: 16, Tied: true})
	for _, c := range []struct {
		name string
		src  *graph.Graph
		op   grow.Operator
		why  string // "" runs
	}{
		{"gemma hypercloning", gemma, &grow.HyperCloning{WidthFactor: 2}, ""},
		{"gemma lemon width", gemma, &grow.LEMON{Width: grow.Width{Hidden: 24}}, ""},
		{"gemma zeropad width", gemma, &grow.ZeroPad{Width: grow.Width{Hidden: 24}}, ""},
		{"gemma zeropad ffn", gemma, &grow.ZeroPad{Width: grow.Width{FFN: 30}}, ""},
		{"gemma lemon depth", gemma, &grow.LEMON{Layers: 3}, ""},
		{"gemma identity", gemma, &grow.Identity{Layers: 3}, ""},
		{"olmo2 hypercloning", olmo2, &grow.HyperCloning{WidthFactor: 2}, ""},
		{"olmo2 lemon x2", olmo2, &grow.LEMON{Width: grow.Width{Hidden: 64}}, ""},
		{"olmo2 lemon 6 heads", olmo2, &grow.LEMON{Width: grow.Width{Hidden: 48}}, "every query head is copied equally often"},
		{"olmo2 zeropad heads", olmo2, &grow.ZeroPad{Width: grow.Width{Hidden: 48}}, "every query head is copied equally often"},
		{"opt lemon x2", opt, &grow.LEMON{Width: grow.Width{Hidden: 64}}, ""},
		{"opt lemon eps", opt, &grow.LEMON{Width: grow.Width{Hidden: 48}}, "has no norm eps in its config (OPTConfig fixes it at 1e-05)"},
	} {
		_, err := grow.Expand(c.src, c.op)
		var oe *grow.OptionError
		switch {
		case c.why == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.why != "" && (!errors.As(err, &oe) || !strings.Contains(err.Error(), c.why)):
			t.Errorf("%s: error %v, want an option error saying %q", c.name, err, c.why)
		}
	}
}

// OLMo-2's norms after the sublayers are residual norms like those before
// them: under LEMON's zero expansion (and zero-padding) a sublayer's output
// is [tile(a), 0], whose mean square is s·mean(a²), so the engine's
// residual-norm rule (eps ×s, gains ×sqrt(s)) keeps them exact at a width
// that is not a multiple. Such a width copies OLMo-2's heads unevenly, which
// its QK-norm over all heads refuses; so the plans keep the heads here (the
// reference does not hold a graph to its config's head_dim) and the engine
// carries them out directly, QK-norm included (its q and k ×sqrt(s) against
// eps ×s).
func TestNormsAfterSublayersUnderLEMON(t *testing.T) {
	g := reference.Synth(reference.Spec{ModelType: "olmo2", D: 32, L: 2, H: 4, K: 2, I: 48, V: 40, Seed: 9})
	for _, op := range []grow.Operator{
		&grow.LEMON{Width: grow.Width{Hidden: 48, FFN: 51}, Common: grow.Common{Seed: 5}},
		&grow.ZeroPad{Width: grow.Width{Hidden: 48}, PadStd: 0.02, Common: grow.Common{Seed: 4}},
	} {
		p, err := op.Plan(g)
		if err != nil {
			t.Fatal(err)
		}
		if p.Values.EpsScale == 1 || p.Values.NormScale == 1 {
			t.Fatalf("%s: eps ×%g, gains ×%g: the test needs s ≠ 1", op.Name(), p.Values.EpsScale, p.Values.NormScale)
		}
		delete(p.Maps, graph.QHeads)
		delete(p.Maps, graph.KVHeads)
		p.Dims.Heads, p.Dims.KVHeads = g.Heads, g.KVHeads
		r, err := transform.Apply(g, p)
		if err != nil {
			t.Fatal(err)
		}
		res := &grow.Result{Graph: r.Graph, Mapping: claim.Mapping{Operator: p.Operator, Class: p.Class, Hidden: p.Hidden}}
		conform(t, op.Name()+" olmo2, heads kept", g, res)
	}
}
