package grow

import (
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
)

// TestPlanExactness: the plan says in which dtypes an operator's values are
// exact, and why not.
func TestPlanExactness(t *testing.T) {
	src := randomGraph(llamaGQA, 1)
	for _, c := range []struct {
		opts Options
		dt   checkpoint.DType
		why  string // "" = exact
	}{
		{Options{Method: MethodHyperCloning, WidthFactor: 2}, checkpoint.BF16, ""},
		{Options{Method: MethodHyperCloning, WidthFactor: 4, FFNFactor: 2}, checkpoint.BF16, ""},
		{Options{Method: MethodHyperCloning, WidthFactor: 2}, checkpoint.F16, "F16 subnormals"},
		{Options{Method: MethodHyperCloning, WidthFactor: 2, FFNFactor: 3}, checkpoint.F32, "division by 3"},
		{Options{Method: MethodHyperCloning, WidthFactor: 2, Noise: true, NoiseSNRDB: 10}, checkpoint.F32, "noise"},
		{Options{Method: MethodHyperCloning, WidthFactor: 2, Noise: true, NoiseSNRDB: 10}, checkpoint.F64, ""},
		{Options{Method: MethodLEMON, Hidden: 128, SplitScale: -1}, checkpoint.BF16, ""},
		{Options{Method: MethodLEMON, Hidden: 128}, checkpoint.F32, "random fan-in split"},
		{Options{Method: MethodLEMON, Hidden: 100, SplitScale: -1}, checkpoint.F32, "sqrt(s)"},
		{Options{Method: MethodZeroPad, Hidden: 128}, checkpoint.F32, "sqrt(s)"}, // √(1/2) is irrational
		{Options{Method: MethodZeroPad, FFN: 300, PadStd: 0.1}, checkpoint.BF16, ""},
	} {
		r, err := Expand(src, c.opts.Operator())
		if err != nil {
			t.Fatal(err)
		}
		in := strings.Join(r.Plan.InexactIn(c.dt), "; ")
		if (c.why == "") != (in == "") || !strings.Contains(in, c.why) {
			t.Errorf("%+v in %s: inexact %q, want %q", c.opts, c.dt, in, c.why)
		}
	}
}
