package transform

import (
	"strings"
	"testing"
)

func TestTileResidueMap(t *testing.T) {
	m := TileResidue(4, 10, FillMean, FillFree)
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
		kv := Circular(c.k, c.k2)
		if c.pad {
			kv = Pad(c.k, c.k2, FillFree, FillZero)
		}
		q, err := HeadMaps(c.h, c.k, c.h2, c.k2, kv)
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
	if _, err := HeadMaps(8, 4, 12, 12, Circular(4, 12)); err == nil || !strings.Contains(err.Error(), "no copy") {
		t.Errorf("shrinking groups: %v", err)
	}
}
