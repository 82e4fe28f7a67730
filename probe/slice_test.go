package probe

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/reference"
)

func TestParseBlocks(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Blocks
		err  string
	}{
		{"0:5", Blocks{0, 5}, ""},
		{"2:4", Blocks{2, 4}, ""},
		{"3:", Blocks{3, 5}, ""},
		{" 1 : 2 ", Blocks{1, 2}, ""},
		{"4:4", Blocks{}, "want 0 ≤ A < B ≤ 5"},
		{"0:6", Blocks{}, "want 0 ≤ A < B ≤ 5"},
		{"-1:2", Blocks{}, "want 0 ≤ A < B ≤ 5"},
		{"2", Blocks{}, "want A:B"},
		{"a:b", Blocks{}, "want A:B"},
	} {
		got, err := ParseBlocks(tc.in, 5)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseBlocks(%q): %v, want an error with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseBlocks(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestPlanSlices(t *testing.T) {
	for _, tc := range []struct {
		layers, n int
		layerMap  []int
		want      string
	}{
		{5, 1, nil, "[0:5]"},
		{5, 2, nil, "[0:2 2:5]"},
		{5, 5, nil, "[0:1 1:2 2:3 3:4 4:5]"},
		{5, 9, nil, "[0:1 1:2 2:3 3:4 4:5]"},
		{22, 4, nil, "[0:5 5:11 11:16 16:22]"},
		// hidden states 1 and 2 have no source state: no slice starts there
		{4, 4, []int{0, -1, -1, 1, 2}, "[0:3 3:4]"},
	} {
		got, err := PlanSlices(tc.layers, tc.n, tc.layerMap)
		if err != nil || fmt.Sprint(got) != tc.want {
			t.Errorf("PlanSlices(%d, %d, %v) = %v, %v; want %s", tc.layers, tc.n, tc.layerMap, got, err, tc.want)
		}
	}
	if _, err := PlanSlices(5, 0, nil); err == nil {
		t.Error("PlanSlices with 0 slices: no error")
	}
}

// sliceReports checks g against dst in the slices of plan.
func sliceReports(t testing.TB, src, dst *graph.Graph, plan ...Blocks) []*Report {
	t.Helper()
	var out []*Report
	for _, b := range plan {
		r, err := Check(src, dst, nil, CheckOptions{Probes: 2, SeqLen: 8, Blocks: &b})
		if err != nil {
			t.Fatalf("slice %s: %v", b, err)
		}
		out = append(out, r)
	}
	return out
}

// TestMergeEditNamesSlice: one weight of block 2 changed fails the slice
// that holds block 2 only (the next slice starts from the source's state),
// and the merged verdict names it.
func TestMergeEditNamesSlice(t *testing.T) {
	g := reference.OpenGraph(t, "../testdata/stories260k")
	w, err := g.Layers[2].Down.W.Float32()
	if err != nil {
		t.Fatal(err)
	}
	w = slices.Clone(w)
	w[17] += 1e-3
	edited := *g
	edited.Layers = slices.Clone(g.Layers)
	edited.Layers[2].Down.W = graph.NewDense32(w, checkpoint.F32, g.Layers[2].Down.W.Shape()...)
	reps := sliceReports(t, g, &edited, Blocks{0, 2}, Blocks{2, 4}, Blocks{4, 5})
	for i, want := range []string{OutcomePass, OutcomeFail, OutcomePass} {
		if reps[i].Outcome != want {
			t.Errorf("slice %s: %s (%s), want %s", blocksOf(reps[i]), reps[i].Outcome, reps[i].Verdict, want)
		}
	}
	m, err := Merge(reps)
	if err != nil {
		t.Fatal(err)
	}
	if m.Outcome != OutcomeFail || !strings.Contains(m.Verdict, "hidden state 3") || !strings.HasSuffix(m.Verdict, "[failing slice 2:4]") {
		t.Errorf("merged verdict %q, want a failure of hidden state 3 naming slice 2:4", m.Verdict)
	}
}

// TestMergeRefuses: slices that leave blocks out, overlap, or belong to
// other checks are refused, naming the blocks.
func TestMergeRefuses(t *testing.T) {
	g := reference.OpenGraph(t, "../testdata/stories260k")
	a := sliceReports(t, g, g, Blocks{0, 2}, Blocks{2, 5}, Blocks{1, 3}, Blocks{3, 5})
	other, err := Check(g, g, nil, CheckOptions{Probes: 3, SeqLen: 8, Blocks: &Blocks{2, 5}})
	if err != nil {
		t.Fatal(err)
	}
	whole, err := Check(g, g, nil, CheckOptions{Probes: 2, SeqLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		reps []*Report
		want string
	}{
		{"none", nil, "no reports"},
		{"missing end", a[:1], "blocks 2:5 are missing"},
		{"missing start", a[1:2], "blocks 0:2 are missing"},
		{"overlap", []*Report{a[0], a[2], a[3]}, "overlaps"},
		{"other check", []*Report{a[0], other}, "different checks"},
		{"not a slice", []*Report{whole}, "not the report of a slice"},
	} {
		_, err := Merge(tc.reps)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if m, err := Merge([]*Report{a[1], a[0]}); err != nil || m.Outcome != OutcomePass || fmt.Sprint(m.MergedFrom) != "[0:2 2:5]" {
		t.Errorf("slices out of order: %v, %+v", err, m)
	}
}

// TestMergeHostile: reports whose tables do not fit their blocks are
// refused with a message, never a panic.
func TestMergeHostile(t *testing.T) {
	g := reference.OpenGraph(t, "../testdata/stories260k")
	base := sliceReports(t, g, g, Blocks{0, 5})[0]
	for name, edit := range map[string]func(r *Report){
		"short deviations": func(r *Report) { r.LayerDev = r.LayerDev[:2] },
		"short maxima":     func(r *Report) { r.Slice.MaxHidden = nil },
		"short layer map":  func(r *Report) { r.LayerMap = r.LayerMap[1:] },
		"blocks past end":  func(r *Report) { r.Slice.To = 9 },
		"no blocks":        func(r *Report) { r.Slice.Layers = 0 },
		"huge":             func(r *Report) { r.Slice.Layers = 1 << 40 },
		"empty slice":      func(r *Report) { r.Slice.From = 5 },
		"no widths":        func(r *Report) { r.Slice.DstHidden = 0 },
	} {
		r := *base
		sl := *base.Slice
		r.Slice = &sl
		edit(&r)
		if _, err := Merge([]*Report{&r}); err == nil {
			t.Errorf("%s: merged without an error", name)
		}
	}
}

// FuzzMerge merges slice reports read from arbitrary JSON (what grow check
// --merge reads from files): an error or a report, never a panic.
func FuzzMerge(f *testing.F) {
	g := reference.OpenGraph(f, "../testdata/stories260k")
	for _, r := range sliceReports(f, g, g, Blocks{0, 2}, Blocks{2, 5}) {
		b, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, b)
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var ra, rb Report
		if json.Unmarshal(a, &ra) != nil || json.Unmarshal(b, &rb) != nil {
			return
		}
		m, err := Merge([]*Report{&ra, &rb})
		if err == nil && m.Verdict == "" {
			t.Errorf("a merged report without a verdict")
		}
	})
}
