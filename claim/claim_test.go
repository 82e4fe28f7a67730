package claim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
)

// A mapping survives its JSON; a bad one is refused with what is wrong.
func TestParseMapping(t *testing.T) {
	want := Mapping{Operator: "lemon", Class: Exact, Hidden: HiddenMap{Kind: "tile", Src: 4, Dst: 6, Fill: "mean"},
		Layers: []int{0, 1, -1}, Rounded: "F32"}
	js, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseMapping(js)
	if err != nil {
		t.Fatal(err)
	}
	if got.Operator != want.Operator || got.Class != want.Class || got.Hidden != want.Hidden ||
		!slices.Equal(got.Layers, want.Layers) || got.Rounded != want.Rounded {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, tc := range []struct{ js, want string }{
		{`{"class":"CLOSE"}`, `exactness class "CLOSE"`},
		{`{"class":"EXACT","hidden":{"kind":"spiral","src":1,"dst":2}}`, `kind "spiral"`},
		{`{"class":"EXACT","hidden":{"kind":"tile","src":1,"dst":2,"fill":"one"}}`, `fill "one"`},
		{`{"class":"EXACT","hidden":{"kind":"tile","src":4,"dst":2}}`, "from 4 to 2"},
		{`{"class":"EXACT","hidden":{"kind":"tile","src":1,"dst":2},"layers":[0,-2]}`, "entry 1 is -2"},
		{`{"class":`, "unexpected end"},
	} {
		if _, err := ParseMapping([]byte(tc.js)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to say %q", tc.js, err, tc.want)
		}
	}
}

// Apply tiles or pads a hidden state and fills the rest.
func TestHiddenMapApply(t *testing.T) {
	x := []float64{1, 2, 3, 6}
	for _, tc := range []struct {
		m    HiddenMap
		want []float64
	}{
		{HiddenMap{Kind: "tile", Src: 4, Dst: 4}, []float64{1, 2, 3, 6}},
		{HiddenMap{Kind: "tile", Src: 4, Dst: 8}, []float64{1, 2, 3, 6, 1, 2, 3, 6}},
		{HiddenMap{Kind: "tile", Src: 4, Dst: 6, Fill: "mean"}, []float64{1, 2, 3, 6, 3, 3}},
		{HiddenMap{Kind: "pad", Src: 4, Dst: 6, Fill: "zero"}, []float64{1, 2, 3, 6, 0, 0}},
	} {
		if got := tc.m.Apply(x); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.m, got, tc.want)
		}
	}
}

// FuzzParseMapping: no input panics; an accepted mapping validates, and its
// JSON parses back to the same mapping, as a metadata string and as the
// config.json object.
func FuzzParseMapping(f *testing.F) {
	for _, s := range []string{
		`{"operator":"hypercloning","class":"EXACT","hidden":{"kind":"tile","src":64,"dst":128}}`,
		`{"operator":"lemon","class":"EXACT","hidden":{"kind":"tile","src":64,"dst":96,"fill":"mean"},"rounded":"F32"}`,
		`{"operator":"zeropad","class":"APPROX","hidden":{"kind":"pad","src":4,"dst":8,"fill":"zero"},"layers":[0,1,-1]}`,
		`{"operator":"convert","class":"BIT-EXACT","hidden":{"kind":"tile","src":64,"dst":64},"storage":"BF16"}`,
		`{"class":"NON-PRESERVING"}`,
		`{"class":"EXACT","layers":[0]}`,
		`{"class":"EXACT","hidden":{"kind":"tile","src":1,"dst":16777217}}`,
		`{"class":"EXACT","clas":"EXACT"}`,
		`{"class":"EXACT"} {}`,
		`null`, `[]`, `"EXACT"`, `{"class":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMapping(data)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted an invalid mapping: %v", err)
		}
		js, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseMapping(js)
		if err != nil || !Same(m, back) {
			t.Fatalf("%s does not parse back: %v", js, err)
		}
		v, err := ConfigValue(m)
		if err != nil {
			t.Fatal(err)
		}
		fromCfg, err := ParseConfigValue(v)
		if err != nil || !Same(m, fromCfg) {
			t.Fatalf("config copy %v does not parse back: %v", v, err)
		}
	})
}

// ParseConfigValue refuses what is not an object, and reads a string holding one.
func TestParseConfigValue(t *testing.T) {
	for _, v := range []any{3.0, true, nil, []any{"a"}} {
		if _, err := ParseConfigValue(v); err == nil || !strings.HasPrefix(err.Error(), "want a JSON object") {
			t.Errorf("%v: %v", v, err)
		}
	}
	m, err := ParseConfigValue(`{"class":"EXACT"}`)
	if err != nil || m.Class != Exact {
		t.Errorf("string: %v %v", m, err)
	}
	if Rank(BitExact) <= Rank(Exact) || Rank(Exact) <= Rank(ExactUpToEps) || Rank(ExactUpToEps) <= Rank(Approx) ||
		Rank(Approx) <= Rank(NonPreserving) || Rank(NonPreserving) != 0 || Rank("CLOSE") != -1 {
		t.Error("class order")
	}
}

func TestThen(t *testing.T) {
	hc := Mapping{Operator: "hypercloning", Class: Exact, Hidden: HiddenMap{Kind: "tile", Src: 64, Dst: 128}}
	id := Mapping{Operator: "identity", Class: BitExact, Hidden: HiddenMap{Kind: "tile", Src: 128, Dst: 128}, Layers: []int{0, 1, 1, 2}}
	got, err := hc.Then(id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Class != Exact || got.Hidden != hc.Hidden || fmt.Sprint(got.Layers) != "[0 1 1 2]" || got.Operator != "hypercloning+identity" {
		t.Errorf("hypercloning then identity: %+v", got)
	}
	dup := Mapping{Operator: "duplicate", Class: NonPreserving, Hidden: HiddenMap{Kind: "tile", Src: 128, Dst: 128}, Layers: []int{0, 1, 2, 3, -1}}
	got, err = got.Then(dup)
	if err != nil || got.Class != NonPreserving || fmt.Sprint(got.Layers) != "[0 1 1 2 -1]" {
		t.Errorf("then duplicate: %+v %v", got, err)
	}
	hc2 := Mapping{Operator: "hypercloning", Class: Exact, Hidden: HiddenMap{Kind: "tile", Src: 128, Dst: 384}}
	if got, err := hc.Then(hc2); err != nil || got.Hidden != (HiddenMap{Kind: "tile", Src: 64, Dst: 384}) {
		t.Errorf("tile then tile: %+v %v", got, err)
	}
	lemon := Mapping{Operator: "lemon", Class: Exact, Hidden: HiddenMap{Kind: "tile", Src: 128, Dst: 200, Fill: "zero"}}
	if _, err := hc.Then(lemon); err == nil {
		t.Error("a tiling with residue composed")
	}
	if _, err := hc.Then(Mapping{Class: Exact, Hidden: HiddenMap{Kind: "tile", Src: 96, Dst: 96}}); err == nil {
		t.Error("maps of different widths composed")
	}
	for _, c := range []struct{ a, b, want string }{
		{BitExact, Exact, Exact}, {Exact, BitExact, Exact}, {Approx, Exact, Approx}, {NonPreserving, BitExact, NonPreserving},
	} {
		if got := Weaker(c.a, c.b); got != c.want {
			t.Errorf("Weaker(%s, %s) = %s, want %s", c.a, c.b, got, c.want)
		}
	}
}

// TestGrowthFiles: an MSG state's files round-trip through ReadGrowth at any
// mask value, and a masks file that disagrees with the state, has an unknown
// tensor or lacks one is refused.
func TestGrowthFiles(t *testing.T) {
	gs := &Growth{Method: "msg", MaskValue: 0.3,
		Old: Sizes{Hidden: 4, Heads: 2, KVHeads: 1, HeadDim: 2, FFN: 6, Layers: 2},
		New: Sizes{Hidden: 6, Heads: 4, KVHeads: 2, HeadDim: 2, FFN: 8, Layers: 3}, NewLayers: []int{2}, SourceLayers: []int{0, 1, 1}}
	write := func(files map[string][]byte) string {
		dir := t.TempDir()
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	files, err := gs.Files()
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := ReadGrowth(write(files))
	if err != nil || !ok || got.MaskValue != 0.3 || got.New != gs.New {
		t.Fatalf("round trip: %+v %v %v", got, ok, err)
	}
	other := *gs
	other.MaskValue = 0.5
	otherFiles, _ := other.Files()
	if _, _, err := ReadGrowth(write(map[string][]byte{GrowthStateFile: files[GrowthStateFile], GrowthMasksFile: otherFiles[GrowthMasksFile]})); err == nil || !strings.Contains(err.Error(), "does not hold the masks") {
		t.Errorf("masks of another value: %v", err)
	}
	var buf bytes.Buffer
	es := []checkpoint.Entry{checkpoint.Float64Entry("msg.bias", checkpoint.F32, []int{1}, func() ([]float64, error) { return []float64{1}, nil })}
	if err := checkpoint.WriteSafetensors(&buf, es, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadGrowth(write(map[string][]byte{GrowthStateFile: files[GrowthStateFile], GrowthMasksFile: buf.Bytes()})); err == nil || !strings.Contains(err.Error(), `unknown tensor "msg.bias"`) {
		t.Errorf("unknown mask tensor: %v", err)
	}
	if _, ok, err := ReadGrowth(t.TempDir()); ok || err != nil {
		t.Errorf("a directory without a state: ok %v, err %v", ok, err)
	}
}
