package tokens

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSparsemax(t *testing.T) {
	for _, tc := range []struct{ z, want []float64 }{
		{[]float64{1, 0.5, 0.1}, []float64{0.75, 0.25, 0}},
		{[]float64{3, 0, -1}, []float64{1, 0, 0}},
		{[]float64{0.2, 0.2}, []float64{0.5, 0.5}},
	} {
		got := sparsemax(tc.z)
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-12 {
				t.Errorf("sparsemax(%v) = %v, want %v", tc.z, got, tc.want)
				break
			}
		}
	}
	if w := weights(3, "linear-first"); math.Abs(w[0]-0.5) > 1e-15 || math.Abs(w[2]-1.0/6) > 1e-15 {
		t.Errorf("linear-first %v", w)
	}
	if w := weights(3, "last"); !slices.Equal(w, []float64{0, 0, 1}) {
		t.Errorf("last %v", w)
	}
}

// sliceSrc is a Rows over a slice.
type sliceSrc struct {
	v    []float64
	n, d int
}

func (s sliceSrc) Rows() int                { return s.n }
func (s sliceSrc) Cols() int                { return s.d }
func (s sliceSrc) Row(i int, dst []float64) { copy(dst, s.v[i*s.d:(i+1)*s.d]) }

// The statistics' methods on a known matrix; random and mvn rows depend on
// the token, not on the order of the tokens.
func TestComputeRows(t *testing.T) {
	src := sliceSrc{[]float64{1, 2, 3, 4, 5, 6, 100, 100}, 4, 2} // the last row is unused
	use := []bool{true, true, true, false}
	rows, err := computeRows(src, []RowInit{{Kind: "mean"}, {Kind: "zero"}, {Kind: "combo", Anchors: []int{0, 2}, Weights: []float64{0.25, 0.75}},
		{Kind: "random", Seed: 7}, {Kind: "mvn", Seed: 7}, {Kind: "scalar-random", Seed: 7}}, use)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], []float64{3, 4}) || !slices.Equal(rows[1], []float64{0, 0}) || !slices.Equal(rows[2], []float64{4, 5}) {
		t.Errorf("mean, zero, combo: %v", rows[:3])
	}
	if d := math.Abs(rows[4][0] - 3); d == 0 || d > 1e-3 {
		t.Errorf("mvn row %v: want the mean up to sqrt(1e-9)·σ", rows[4])
	}
	again, _ := computeRows(src, []RowInit{{Kind: "mvn", Seed: 7}, {Kind: "random", Seed: 7}}, use)
	if !slices.Equal(again[1], rows[3]) || !slices.Equal(again[0], rows[4]) {
		t.Error("random rows depend on the order of the tokens")
	}
}

// writeVectors writes a vectors file for stories260k: every old token's
// decoded string gets a vector that points at a direction per first letter,
// and the new token's text one close to "w"'s.
func writeVectors(t *testing.T, old *Encoder, extra map[string][]float64) string {
	t.Helper()
	vecs := map[string][]float64{}
	for id := range 512 {
		s := old.Decode([]int{id}, false)
		v := make([]float64, 4)
		if s != "" {
			v[int(s[0])%4] = 1
			v[(int(s[len(s)-1])+1)%4] += 0.5
		}
		vecs[s] = v
	}
	for k, v := range extra {
		vecs[k] = v
	}
	b, _ := json.Marshal(map[string]any{"dim": 4, "vectors": vecs})
	p := filepath.Join(t.TempDir(), "vectors.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The vector methods give convex combinations; a token without a vector
// falls back (and says so); a missing file is an error.
func TestVectorMethods(t *testing.T) {
	dir := filepath.Join(testdata, "stories260k")
	old := loadTestEncoder(t, "stories260k")
	vec := writeVectors(t, old, map[string][]float64{"went": {0, 0, 0, 1}})
	for _, name := range []string{MethodTokenAdapt, MethodKNN, MethodSparsemax} {
		m, err := ParseMethod(name + ":" + vec)
		if err != nil {
			t.Fatal(err)
		}
		x, err := Extend(dir, []Request{{Text: "went"}, {Text: "Sara"}}, Options{Input: m, Output: Method{Name: MethodMean}, Rows: 512, Tied: true})
		if err != nil {
			t.Fatal(err)
		}
		r := x.Input[0]
		sum := 0.0
		for _, w := range r.Weights {
			if w < 0 {
				t.Errorf("%s: negative weight %v", name, r.Weights)
			}
			sum += w
		}
		if r.Kind != "combo" || math.Abs(sum-1) > 1e-12 || r.Fallback != "" {
			t.Errorf("%s: %+v", name, r)
		}
		if name == MethodTokenAdapt && !slices.Contains(r.Tokens, "▁w") {
			t.Errorf("tokenadapt: no local piece in %v", r.Tokens)
		}
		if name == MethodKNN && len(r.Anchors) != KNNNeighbours {
			t.Errorf("knn: %d neighbours", len(r.Anchors))
		}
		last := x.Input[len(x.Input)-1] // "▁Sara": no vector
		if !strings.Contains(last.Fallback, "no vector") {
			t.Errorf("%s: a token without a vector: %+v", name, last)
		}
	}
	m, _ := ParseMethod("tokenadapt:" + filepath.Join(t.TempDir(), "missing.json"))
	if _, err := Extend(dir, []Request{{Text: "went"}}, Options{Input: m, Output: Method{Name: MethodMean}, Rows: 512, Tied: true}); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing vectors file: %v", err)
	}
}

// OMP fits the new token's donor vector with old tokens' donor vectors; the
// coefficients are unconstrained.
func TestOMP(t *testing.T) {
	dir := filepath.Join(testdata, "stories260k")
	old := loadTestEncoder(t, "stories260k")
	target := []float64{0.3, -1.2, 2.5, 0.7}
	vec := writeVectors(t, old, map[string][]float64{"went": target})
	m, err := ParseMethod("omp:" + vec)
	if err != nil {
		t.Fatal(err)
	}
	x, err := Extend(dir, []Request{{Text: "went"}}, Options{Input: m, Output: Method{Name: MethodMean}, Rows: 512, Tied: true})
	if err != nil {
		t.Fatal(err)
	}
	r := x.Input[0]
	if r.Kind != "combo" || len(r.Anchors) == 0 || len(r.Anchors) > 4 {
		t.Fatalf("%+v", r)
	}
	v, _ := LoadVectors(vec)
	fit := make([]float64, 4)
	for i, id := range r.Anchors {
		for j, a := range v.raw[old.Decode([]int{id}, false)] {
			fit[j] += r.Weights[i] * a
		}
	}
	for j := range fit {
		if math.Abs(fit[j]-target[j]) > 1e-9 {
			t.Fatalf("OMP fit %v, want %v", fit, target)
		}
	}
}
