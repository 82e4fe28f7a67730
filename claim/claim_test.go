package claim

import (
	"encoding/json"
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
