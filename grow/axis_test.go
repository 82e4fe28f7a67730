package grow

import (
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
)

func TestTileResidueMap(t *testing.T) {
	m := tileResidueMap(4, 10, fillMean, fillFree)
	want := []int{0, 1, 2, 3, 0, 1, 2, 3, -1, -1}
	for i, j := range m.idx {
		if j != want[i] {
			t.Fatalf("idx %v, want %v", m.idx, want)
		}
	}
	for j, c := range m.count {
		if c != 2 || len(m.copies[j]) != 2 || m.copies[j][1] != j+4 {
			t.Fatalf("source %d: count %d copies %v", j, c, m.copies[j])
		}
	}
	if m.ord[5] != 1 || m.ord[1] != 0 {
		t.Errorf("ord %v", m.ord)
	}
}

// Every grown query head must attend with a kv head that copies the kv head
// of its own source head, and every source head must get a copy.
func TestHeadMapsConsistent(t *testing.T) {
	for _, c := range []struct {
		h, k, h2, k2 int
		pad          bool
	}{
		{8, 4, 16, 8, false}, {8, 4, 12, 6, false}, {8, 4, 14, 7, false}, {8, 4, 24, 8, false},
		{8, 1, 13, 1, false}, {8, 8, 12, 12, false}, {6, 2, 9, 3, false},
		{8, 4, 12, 6, true}, {8, 1, 12, 1, true}, {8, 4, 16, 4, true},
	} {
		kv := circularMap(c.k, c.k2)
		if c.pad {
			kv = padMap(c.k, c.k2, fillFree, fillZero)
		}
		q, err := headMaps(c.h, c.k, c.h2, c.k2, kv)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		g, g2 := c.h/c.k, c.h2/c.k2
		for i, s := range q.idx {
			if s < 0 {
				continue
			}
			if got, want := kv.idx[i/g2], s/g; got != want {
				t.Errorf("%+v: grown head %d copies head %d (kv %d) but attends with a copy of kv %d", c, i, s, want, got)
			}
		}
		for j, n := range q.count {
			if n == 0 {
				t.Errorf("%+v: source head %d has no copy", c, j)
			}
		}
	}
	if _, err := headMaps(8, 4, 12, 12, circularMap(4, 12)); err == nil || !strings.Contains(err.Error(), "no copy") {
		t.Errorf("shrinking groups: %v", err)
	}
}

func TestPlanExactness(t *testing.T) {
	src := randomGraph(llamaGQA, 1)
	for _, c := range []struct {
		opts Options
		dt   checkpoint.DType
		why  string // "" = exact
	}{
		{Options{Method: HyperCloning, WidthFactor: 2}, checkpoint.BF16, ""},
		{Options{Method: HyperCloning, WidthFactor: 4, FFNFactor: 2}, checkpoint.BF16, ""},
		{Options{Method: HyperCloning, WidthFactor: 2}, checkpoint.F16, "F16 subnormals"},
		{Options{Method: HyperCloning, WidthFactor: 2, FFNFactor: 3}, checkpoint.F32, "division by 3"},
		{Options{Method: HyperCloning, WidthFactor: 2, Noise: true, NoiseSNRDB: 10}, checkpoint.F32, "noise"},
		{Options{Method: HyperCloning, WidthFactor: 2, Noise: true, NoiseSNRDB: 10}, checkpoint.F64, ""},
		{Options{Method: LEMON, Hidden: 128, SplitScale: -1}, checkpoint.BF16, ""},
		{Options{Method: LEMON, Hidden: 128}, checkpoint.F32, "random fan-in split"},
		{Options{Method: LEMON, Hidden: 100, SplitScale: -1}, checkpoint.F32, "sqrt(s)"},
		{Options{Method: ZeroPad, Hidden: 128}, checkpoint.F32, "sqrt(s)"}, // √(1/2) is irrational
		{Options{Method: ZeroPad, FFN: 300, PadStd: 0.1}, checkpoint.BF16, ""},
	} {
		r, err := Expand(src, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		in := strings.Join(r.Plan.InexactIn(c.dt), "; ")
		if (c.why == "") != (in == "") || !strings.Contains(in, c.why) {
			t.Errorf("%+v in %s: inexact %q, want %q", c.opts, c.dt, in, c.why)
		}
	}
}
