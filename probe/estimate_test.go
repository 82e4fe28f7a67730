package probe

import (
	"math"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/internal/reference"
)

// TestEstimateCheck: the estimate of a check counts the products and the
// bytes its Report.Cost counts as it runs, a slice's cost is its part of
// them, and the time follows the rates.
func TestEstimateCheck(t *testing.T) {
	g := reference.OpenGraph(t, "../testdata/stories260k")
	opts := CheckOptions{Probes: 3, SeqLen: 10}
	rep, err := Check(g, g, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	e := EstimateCheck(g, g, opts.withDefaults(), Rates{GFLOPS: 10, Decode: map[checkpoint.DType]float64{checkpoint.F32: 1e9}})
	if e.FLOPs != rep.Cost.FLOPs || e.ReadBytes != rep.Cost.ReadBytes {
		t.Errorf("estimate %g FLOPs, %g bytes; the check counted %g, %g", e.FLOPs, e.ReadBytes, rep.Cost.FLOPs, rep.Cost.ReadBytes)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Abs(b) }
	if want := e.FLOPs/10e9 + e.ReadBytes/1e9; !near(e.Seconds, want) || !near(e.DecodeSeconds, e.ReadBytes/1e9) {
		t.Errorf("estimate %g s (%g decoding), want %g", e.Seconds, e.DecodeSeconds, want)
	}
	if e.Memory <= 0 || rep.Cost.Seconds <= 0 || rep.Cost.GFLOPS <= 0 {
		t.Errorf("memory %g, cost %+v", e.Memory, rep.Cost)
	}
	var sum float64
	for _, b := range []Blocks{{0, 2}, {2, 5}} {
		o := opts
		o.Blocks = &b
		r, err := Check(g, g, nil, o)
		if err != nil {
			t.Fatal(err)
		}
		sum += r.Cost.FLOPs
	}
	// The slice with the head runs the whole source; the first runs the
	// source up to its end and the result's first blocks.
	if sum <= rep.Cost.FLOPs || sum >= 2*rep.Cost.FLOPs {
		t.Errorf("two slices counted %g FLOPs, the whole check %g", sum, rep.Cost.FLOPs)
	}
	if r := MeasureRates(F64, checkpoint.BF16, checkpoint.F32); r.GFLOPS <= 0 || r.Decode[checkpoint.BF16] <= 0 || r.Decode[checkpoint.F32] <= 0 {
		t.Errorf("rates %+v", r)
	}
}
