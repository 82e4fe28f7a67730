package selection

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// exactRule is the uniform rule in exact arithmetic: a stride when s divides
// t, else round(i·(t−1)/(s−1)) with halves to even.
func exactRule(t, s int) []int {
	out := make([]int, s)
	if t%s == 0 {
		for k := range out {
			out[k] = k * (t / s)
		}
		return out
	}
	for i := range out {
		num, den := int64(i)*int64(t-1), int64(s-1)
		q, r := num/den, num%den
		if 2*r > den || (2*r == den && q%2 == 1) {
			q++
		}
		out[i] = int(q)
	}
	return out
}

// TestUniformTorch: Uniform equals the reference code's rule, as PyTorch
// computes it, on every pair of testdata/uniform-torch.txt: all (t, s) with
// t ≤ 64, widths of released models and random pairs up to 20000. The file
// lists where PyTorch's float32 linspace moves an index away from the exact
// rule (124 of 2304 pairs); interop/test_shrink.py checks the file against
// the installed PyTorch.
func TestUniformTorch(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "uniform-torch.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, moved := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		T, _ := strconv.Atoi(fs[0])
		S, _ := strconv.Atoi(fs[1])
		want := exactRule(T, S)
		for _, dev := range fs[2:] {
			i, v, _ := strings.Cut(dev, ":")
			ii, _ := strconv.Atoi(i)
			want[ii], _ = strconv.Atoi(v)
			moved++
		}
		if got := Uniform(T, S); !slices.Equal(got, want) {
			t.Fatalf("Uniform(%d, %d) = %v, PyTorch's rule gives %v", T, S, got, want)
		}
		n++
	}
	if n < 2000 || moved == 0 {
		t.Fatalf("%d pairs, %d moved indices: the table is incomplete", n, moved)
	}
}

func TestIndexRules(t *testing.T) {
	for _, c := range []struct {
		name string
		got  []int
		want []int
	}{
		{"uniform stride", Uniform(64, 32), []int{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62}},
		{"uniform tie to even", Uniform(4, 3), []int{0, 2, 3}},
		{"uniform linspace", Uniform(10, 4), []int{0, 3, 6, 9}},
		{"uniform one", Uniform(7, 1), []int{0}},
		{"uniform same", Uniform(5, 5), []int{0, 1, 2, 3, 4}},
		{"spread", Spread(5, 3), []int{0, 2, 4}},
		{"spread tie", Spread(8, 3), []int{0, 4, 7}},
		{"spread 8→4", Spread(8, 4), []int{0, 2, 5, 7}},
		{"spread one", Spread(8, 1), []int{0}},
		{"first", First(9, 3), []int{0, 1, 2}},
		{"top with ties", Top([]float64{1, 3, 3, 0, 2}, 2), []int{1, 2}},
		{"top tie to the lower index", Top([]float64{5, 1, 1, 1}, 2), []int{0, 1}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	r := Random(rng, 100, 10)
	if len(r) != 10 || !slices.IsSorted(r) || len(slices.Compact(slices.Clone(r))) != 10 {
		t.Errorf("Random: %v", r)
	}
}
