package tokens

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// Vectors are external vectors of strings: what a sentence-embedding model
// (TokenAdapt), fastText or multilingual word vectors (WECHSEL, OFA,
// FOCUS) give the decoded strings of the old tokens and of the new ones.
// grow runs no such model; they come from a JSON file
//
//	{"dim": 384, "vectors": {"went": [0.01, ...], "w": [...], ...}}
//
// whose keys are decoded token strings (a SentencePiece "▁went" is "went",
// a byte-level "Ġwent" is " went") and the new tokens' texts.
type Vectors struct {
	Dim int
	m   map[string][]float64 // unit vectors
	raw map[string][]float64 // as read (OMP's atoms are not normalized)
}

// LoadVectors reads a vectors file.
func LoadVectors(path string) (*Vectors, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vectors: %w", err)
	}
	var doc struct {
		Dim     int                  `json:"dim"`
		Vectors map[string][]float64 `json:"vectors"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("vectors: %s: %v", path, err)
	}
	if doc.Dim <= 0 || len(doc.Vectors) == 0 {
		return nil, fmt.Errorf("vectors: %s: want {\"dim\": D, \"vectors\": {string: [D numbers]}}", path)
	}
	v := &Vectors{Dim: doc.Dim, m: map[string][]float64{}, raw: doc.Vectors}
	for k, x := range doc.Vectors {
		if len(x) != doc.Dim {
			return nil, fmt.Errorf("vectors: %s: %q has %d numbers, want %d", path, k, len(x), doc.Dim)
		}
		n := 0.0
		for _, f := range x {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("vectors: %s: %q holds a NaN or infinity", path, k)
			}
			n += f * f
		}
		n = math.Sqrt(n)
		u := make([]float64, len(x))
		if n > 0 {
			for i, f := range x {
				u[i] = f / n
			}
		}
		v.m[k] = u // unit vectors: a dot product is the cosine
	}
	return v, nil
}

// unit returns the unit vector of s (ok false when the file has none, or
// a zero one).
func (v *Vectors) unit(s string) ([]float64, bool) {
	u, ok := v.m[s]
	if !ok {
		return nil, false
	}
	for _, x := range u {
		if x != 0 {
			return u, true
		}
	}
	return nil, false
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

// softmax of x/t.
func softmax(x []float64, t float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, v/t)
	}
	out := make([]float64, len(x))
	s := 0.0
	for i, v := range x {
		out[i] = math.Exp(v/t - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// sparsemax projects z onto the probability simplex (Martins & Astudillo):
// sorted descending, K = max{k : 1 + k·z_(k) > Σ_{i≤k} z_(i)},
// τ = (Σ_{i≤K} z_(i) − 1)/K, p_i = max(z_i − τ, 0).
func sparsemax(z []float64) []float64 {
	s := append([]float64(nil), z...)
	sort.Sort(sort.Reverse(sort.Float64Slice(s)))
	cum, k, kcum := 0.0, 0, 0.0
	for i, v := range s {
		cum += v
		if 1+float64(i+1)*v > cum {
			k, kcum = i+1, cum
		}
	}
	tau := (kcum - 1) / float64(k)
	out := make([]float64, len(z))
	for i, v := range z {
		out[i] = max(v-tau, 0)
	}
	return out
}

// neighbour is an old token and its similarity.
type neighbour struct {
	id  int
	sim float64
}

// similar returns the trained old tokens with vectors and their cosine
// similarity to u, most similar first (ties: lower id first).
func (rs *resolver) similar(v *Vectors, u []float64) []neighbour {
	var out []neighbour
	for id, s := range rs.oldDecoded() {
		if !rs.use[id] || s == "" {
			continue
		}
		if w, ok := v.unit(s); ok {
			out = append(out, neighbour{id, dot(u, w)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].sim > out[j].sim })
	return out
}

// vectorCombo returns the anchors and weights of a vector method for a new
// token of text surface, or nil and why there are none.
func (rs *resolver) vectorCombo(name string, v *Vectors, surface string) ([]int, []float64, string) {
	u, ok := v.unit(surface)
	if !ok {
		return nil, nil, fmt.Sprintf("no vector for %q", surface)
	}
	switch name {
	case MethodOMP:
		return rs.omp(v, surface)
	case MethodKNN:
		nb := rs.similar(v, u)
		if len(nb) == 0 {
			return nil, nil, "no old token has a vector"
		}
		nb = nb[:min(len(nb), KNNNeighbours)]
		sims := make([]float64, len(nb))
		ids := make([]int, len(nb))
		for i, n := range nb {
			ids[i], sims[i] = n.id, n.sim
		}
		return ids, softmax(sims, KNNTemperature), ""
	case MethodSparsemax:
		nb := rs.similar(v, u)
		if len(nb) == 0 {
			return nil, nil, "no old token has a vector"
		}
		sims := make([]float64, len(nb))
		for i, n := range nb {
			sims[i] = n.sim
		}
		p := sparsemax(sims)
		var ids []int
		var w []float64
		for i, x := range p {
			if x > 0 {
				ids, w = append(ids, nb[i].id), append(w, x)
			}
		}
		return ids, w, ""
	}
	// TokenAdapt: the local estimate from the token's own pieces, the
	// global one from its nearest old tokens, mixed.
	tau := TokenAdaptTemperature + 1e-5
	weights := map[int]float64{}
	var order []int
	addW := func(id int, w float64) {
		if _, ok := weights[id]; !ok {
			order = append(order, id)
		}
		weights[id] += w
	}
	var localIDs []int
	var localW []float64
	n := float64(len([]rune(surface)))
	var sims, lens []float64
	for _, id := range rs.old.IDs(surface, false) {
		if id < 0 || id >= len(rs.oldDecoded()) {
			continue
		}
		sj := rs.oldDecoded()[id]
		w, ok := v.unit(sj)
		if !ok {
			continue
		}
		localIDs = append(localIDs, id)
		sims = append(sims, dot(u, w))
		lens = append(lens, float64(len([]rune(sj)))/n)
	}
	if len(localIDs) > 0 {
		w1 := softmax(sims, 1)
		z := make([]float64, len(w1))
		for i := range z {
			z[i] = (w1[i] + lens[i]) / 2
		}
		localW = softmax(z, tau)
	}
	var globalIDs []int
	var globalW []float64
	nb := rs.similar(v, u)
	nb = nb[:min(len(nb), TokenAdaptTopK)]
	if len(nb) > 0 {
		gs := make([]float64, len(nb))
		for i, x := range nb {
			gs[i] = x.sim
		}
		w := softmax(gs, tau)
		sum := 0.0
		for i, x := range nb {
			if x.sim < TokenAdaptThreshold {
				w[i] = 0
			}
			sum += w[i]
		}
		if sum > 0 {
			for i, x := range nb {
				if w[i] > 0 {
					globalIDs, globalW = append(globalIDs, x.id), append(globalW, w[i]/sum)
				}
			}
		}
	}
	lw, gw := 1-TokenAdaptWeight, TokenAdaptWeight
	switch {
	case localIDs == nil && globalIDs == nil:
		return nil, nil, "neither a local nor a global estimate"
	case localIDs == nil:
		lw, gw = 0, 1
	case globalIDs == nil:
		lw, gw = 1, 0
	}
	for i, id := range localIDs {
		addW(id, lw*localW[i])
	}
	for i, id := range globalIDs {
		addW(id, gw*globalW[i])
	}
	ids := make([]int, 0, len(order))
	ws := make([]float64, 0, len(order))
	for _, id := range order {
		if weights[id] > 0 {
			ids, ws = append(ids, id), append(ws, weights[id])
		}
	}
	return ids, ws, ""
}

// omp is mergekit tokensurgeon's orthogonal matching pursuit: the donor
// vector t of the new token is approximated by OMPAtoms donor vectors of
// old tokens (atoms not normalized: the one with the largest |⟨r, D_j⟩|
// joins, then the least-squares coefficients on the chosen atoms give the
// new residual r), and the same coefficients combine the old tokens' rows.
// The coefficients are unconstrained: not a convex combination.
func (rs *resolver) omp(v *Vectors, surface string) ([]int, []float64, string) {
	t := v.raw[surface]
	var ids []int
	var atoms [][]float64
	seen := map[string]bool{}
	for id, s := range rs.oldDecoded() {
		if !rs.use[id] || s == "" || seen[s] {
			continue
		}
		if a, ok := v.raw[s]; ok {
			seen[s] = true // one atom per string
			ids = append(ids, id)
			atoms = append(atoms, a)
		}
	}
	if len(ids) == 0 {
		return nil, nil, "no old token has a vector"
	}
	d := len(t)
	r := append([]float64(nil), t...)
	var sel []int
	chosen := make([]bool, len(ids))
	var coef []float64
	tn := math.Sqrt(dot(t, t))
	for step := 0; step < min(OMPAtoms, len(ids), d); step++ {
		best, bv := -1, 0.0
		for j, a := range atoms {
			if chosen[j] {
				continue
			}
			if x := math.Abs(dot(r, a)); best < 0 || x > bv {
				best, bv = j, x
			}
		}
		if best < 0 || bv == 0 {
			break
		}
		chosen[best] = true
		sel = append(sel, best)
		a := mat.NewDense(d, len(sel), nil)
		for c, j := range sel {
			for i := 0; i < d; i++ {
				a.Set(i, c, atoms[j][i])
			}
		}
		var x mat.VecDense
		if err := x.SolveVec(a, mat.NewVecDense(d, append([]float64(nil), t...))); err != nil {
			sel = sel[:len(sel)-1] // a dependent atom: stop before it
			break
		}
		coef = x.RawVector().Data
		var fit mat.VecDense
		fit.MulVec(a, &x)
		for i := range r {
			r[i] = t[i] - fit.AtVec(i)
		}
		if math.Sqrt(dot(r, r)) <= 1e-12*tn {
			break
		}
	}
	if len(coef) == 0 {
		return nil, nil, "no atom fits"
	}
	out := make([]int, len(coef))
	for c := range coef {
		out[c] = ids[sel[c]]
	}
	return out, append([]float64(nil), coef...), ""
}
