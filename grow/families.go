package grow

import (
	"fmt"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/transform"
)

// familyRefusal refuses a plan whose result the transform engine cannot
// make exact for the source's family features, with the reason. (Gemma's
// sqrt(hidden) embedding scale and (1 + w) norm gains are the engine's
// rules: the embedding ×sqrt(D/D'), gains s·(1 + w) − 1.)
//
//   - Features.QKNormWhole (OLMo-2): a norm over a whole query (key)
//     projection keeps its statistics only when every head is copied
//     equally often and no head is new: other head maps are refused, unless
//     the plan promises nothing (NON-PRESERVING: weight selection).
//   - no norm-eps key in the config (OPT): a plan that scales eps cannot be
//     written; refused.
func familyRefusal(g *graph.Graph, p *transform.Plan) error {
	d := g.Descriptor()
	if d == nil {
		return nil
	}
	ft := d.Features
	name := fmt.Sprintf("%s: %s", p.Operator, d.Name)
	if ft.QKNorm && ft.QKNormWhole && p.Class != claim.NonPreserving {
		for _, ax := range []struct {
			a    graph.Axis
			what string
		}{{graph.QHeads, "query"}, {graph.KVHeads, "key/value"}} {
			if m := p.Maps[ax.a]; m != nil && !uniform(m) {
				return fmt.Errorf("%s normalises the whole query and key projections: their norms keep their statistics only when every %s head is copied equally often and none is new (a multiple of the heads); refused",
					name, ax.what)
			}
		}
	}
	if s := p.Values.EpsScale; len(d.Config.NormEps) == 0 && s != 0 && s != 1 {
		return fmt.Errorf("%s has no norm eps in its config (%s fixes it at %g): the plan scales eps by %.6g, which the written config cannot say; refused (a multiple of the hidden width keeps eps)",
			name, d.ConfigClass, d.Config.NormEpsDefault, s)
	}
	return nil
}

// uniform reports whether m copies every source index the same number of
// times and adds none.
func uniform(m *transform.Map) bool {
	count := make([]int, m.Src())
	for i := range m.Dst() {
		j := m.Source(i)
		if j < 0 {
			return false
		}
		count[j]++
	}
	for _, c := range count {
		if c != count[0] {
			return false
		}
	}
	return true
}
