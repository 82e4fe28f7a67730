package claim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
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
