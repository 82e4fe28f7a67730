package claim

import "fmt"

// classRank orders the classes from the strictest (0).
var classRank = map[string]int{BitExact: 0, Exact: 1, ExactUpToEps: 2, Approx: 3, NonPreserving: 4}

// Weaker returns the weaker of two classes (an unknown class is the weakest).
func Weaker(a, b string) string {
	ra, oka := classRank[a]
	rb, okb := classRank[b]
	switch {
	case !oka:
		return a
	case !okb || rb > ra:
		return b
	}
	return a
}

// IsIdentity reports whether h maps every hidden state to itself.
func (h HiddenMap) IsIdentity() bool {
	return h.Src == h.Dst && h.Src > 0 && (h.Kind == "tile" || h.Kind == "pad")
}

// Then composes two hidden maps: h from A to B, then n from B to C. It
// returns false when the composition is no HiddenMap: only an identity on
// either side and two tilings without residue (C a multiple of B, B of A)
// compose, since tile_q2(tile_q1(h))[i] = h[(i mod B) mod A] = h[i mod A].
func (h HiddenMap) Then(n HiddenMap) (HiddenMap, bool) {
	switch {
	case h.Dst != n.Src:
		return HiddenMap{}, false
	case n.IsIdentity():
		return h, true
	case h.IsIdentity():
		return n, true
	case h.Kind == "tile" && n.Kind == "tile" && h.Dst%h.Src == 0 && n.Dst%n.Src == 0:
		return HiddenMap{Kind: "tile", Src: h.Src, Dst: n.Dst}, true
	}
	return HiddenMap{}, false
}

// Then composes the claims of two operators applied one after the other: m
// maps A to B, n maps B to C. The result maps A to C with the weaker class,
// the composed hidden map and layer map (a hidden state of C is the state of
// A that its state of B is), and the rounding and storage of the later. It is
// an error when the hidden maps do not compose (HiddenMap.Then) or the layer
// maps do not fit.
func (m Mapping) Then(n Mapping) (Mapping, error) {
	h, ok := m.Hidden.Then(n.Hidden)
	if !ok {
		return Mapping{}, fmt.Errorf("claim: the hidden maps %+v and %+v do not compose", m.Hidden, n.Hidden)
	}
	out := Mapping{Operator: m.Operator + "+" + n.Operator, Class: Weaker(m.Class, n.Class), Hidden: h,
		Rounded: n.Rounded, Storage: n.Storage}
	if out.Rounded == "" {
		out.Rounded = m.Rounded
	}
	switch {
	case n.Layers == nil:
		out.Layers = m.Layers
	case m.Layers == nil:
		out.Layers = n.Layers
	default:
		out.Layers = make([]int, len(n.Layers))
		for j, s := range n.Layers {
			switch {
			case s < 0:
				out.Layers[j] = -1
			case s >= len(m.Layers):
				return Mapping{}, fmt.Errorf("claim: layer map entry %d names state %d of a model with %d", j, s, len(m.Layers))
			default:
				out.Layers[j] = m.Layers[s]
			}
		}
	}
	return out, nil
}
