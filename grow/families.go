package grow

import (
	"fmt"

	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/transform"
)

// familyRefusal refuses a plan whose result the transform engine cannot yet
// make exact for the source's family features, with the reason: the value
// rules these features need are not the engine's yet.
//
//   - Features.EmbedScale (Gemma): the forward pass multiplies the
//     embeddings by sqrt(hidden_size), so a plan that changes the hidden
//     width needs the embedding ×sqrt(D)/sqrt(D') (and a tied head kept
//     tied the inverse): refused while the engine does not apply it.
//   - Features.NormPlusOne (Gemma): a gain w multiplies as 1 + w, so a
//     rescaled gain s·(1 + w) is stored as s·(1 + w) − 1, not s·w: a plan
//     that rescales norm gains (LEMON's and zero-padding's sqrt(s), a tied
//     head's 1/copies folded into the final norm) is refused.
//   - Features.QKNormWhole (OLMo-2): a norm over a whole query (key)
//     projection keeps its statistics only when every head is copied
//     equally often and no head is new: other head maps are refused.
//   - no norm-eps key in the config (OPT): a plan that scales eps cannot be
//     written; refused.
func familyRefusal(g *graph.Graph, p *transform.Plan) error {
	d := g.Descriptor()
	if d == nil {
		return nil
	}
	ft := d.Features
	name := fmt.Sprintf("%s: %s", p.Operator, d.Name)
	if ft.EmbedScale && p.Dims.Hidden != g.Hidden {
		return fmt.Errorf("%s multiplies its embeddings by sqrt(%s): at width %d they would need ×sqrt(%d/%d) to give the same stream, which grow does not apply yet; it deepens %s (identity, duplicate, lemon --layers) and widens its FFN (zeropad --ffn) only",
			name, d.Config.Hidden[0], p.Dims.Hidden, g.Hidden, p.Dims.Hidden, d.Name)
	}
	if ft.NormPlusOne {
		scaled := p.Values.NormScale != 0 && p.Values.NormScale != 1
		if m := p.Maps[graph.Residual]; p.KeepTied && g.Tied && !g.Headless && m != nil && m.MaxCopies() > 1 {
			scaled = true
		}
		if scaled {
			return fmt.Errorf("%s stores its norm gains as w in x·(1 + w): a gain rescaled by s is s·(1 + w) − 1, which grow does not write yet; refused", name)
		}
	}
	if ft.QKNorm && ft.QKNormWhole {
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
