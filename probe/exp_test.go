package probe

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFastExp: fastExp is within 3 ulp (3·2⁻⁵² relative) of math.Exp over the whole
// range (and equal at the special values).
func TestFastExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	worst, at := 0.0, 0.0
	check := func(x float64) {
		want, got := math.Exp(x), fastExp(x)
		if want == 0 || math.IsInf(want, 0) {
			if got != want {
				t.Errorf("fastExp(%g) = %g, want %g", x, got, want)
			}
			return
		}
		if rel := math.Abs(got-want) / want; rel > worst {
			worst, at = rel, x
		}
	}
	for range 1_000_000 {
		check(rng.Float64()*1500 - 750)
		check(rng.Float64()*40 - 30)
		check(rng.NormFloat64() * 1e-3)
	}
	for _, x := range []float64{0, math.Copysign(0, -1), 1, -1, 699.9, -699.9, 700, -700, 709.7, -745, -746, 710, math.Inf(1), math.Inf(-1)} {
		check(x)
	}
	if !math.IsNaN(fastExp(math.NaN())) {
		t.Error("fastExp(NaN) is not NaN")
	}
	t.Logf("max relative error %.3g at x = %g", worst, at)
	if worst > 3*0x1p-52 {
		t.Errorf("max relative error %.3g at x = %g (want ≤ 3·2⁻⁵²)", worst, at)
	}
}

// TestExp32: exp32 is within 1e-9 relative of math.Exp.
func TestExp32(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	worst := 0.0
	for range 1_000_000 {
		x := rng.Float64()*200 - 150
		want := math.Exp(x)
		worst = math.Max(worst, math.Abs(exp32(x)-want)/want)
	}
	if worst > 1e-9 {
		t.Errorf("max relative error %.3g (want ≤ 1e-9)", worst)
	}
}

func BenchmarkExp(b *testing.B) {
	xs := make([]float64, 1024)
	for i := range xs {
		xs[i] = -float64(i) / 50
	}
	b.Run("math", func(b *testing.B) {
		s := 0.0
		for b.Loop() {
			for _, x := range xs {
				s += math.Exp(x)
			}
		}
		_ = s
	})
	b.Run("fast", func(b *testing.B) {
		s := 0.0
		for b.Loop() {
			for _, x := range xs {
				s += fastExp(x)
			}
		}
		_ = s
	})
}

func BenchmarkExp32(b *testing.B) {
	xs := make([]float64, 1024)
	for i := range xs {
		xs[i] = -float64(i) / 50
	}
	s := 0.0
	for b.Loop() {
		for _, x := range xs {
			s += exp32(x)
		}
	}
	_ = s
}
