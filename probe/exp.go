package probe

import "math"

// expTable[j] = 2^(j/32).
var expTable = func() [32]float64 {
	var t [32]float64
	for j := range t {
		t[j] = math.Exp2(float64(j) / 32)
	}
	return t
}()

const (
	exp32Log2e = 32 * math.Log2E
	// ln2/32 split so that k·expLn2Hi is exact for the k that occur.
	expLn2Hi = 6.93147180369123816490e-01 / 32
	expLn2Lo = 1.90821492927058770002e-10 / 32
)

// fastExp is e^x to within a few units in the last place of a float64 (checked
// against math.Exp in exp_test.go), several times faster than math.Exp: x =
// (32k + j)·ln2/32 + r with |r| ≤ ln2/64, e^x = 2^k · 2^(j/32) · e^r, e^r by a
// degree-6 Taylor polynomial (truncation below 3e-18). Softmax and the gated
// activations spend most of their time here.
func fastExp(x float64) float64 {
	if !(x > -700 && x < 700) {
		return math.Exp(x) // NaN, ±Inf, underflow and overflow ranges
	}
	y := x * exp32Log2e
	if y < 0 {
		y -= 0.5
	} else {
		y += 0.5
	}
	ni := int64(y) // round half away from zero
	n := float64(ni)
	r := (x - n*expLn2Hi) - n*expLn2Lo
	j := ni & 31
	k := ni >> 5
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720))))))
	return p * expTable[j] * math.Float64frombits(uint64(k+1023)<<52)
}

// exp32 is e^x accurate for float32 arithmetic: the table reduction of
// fastExp with a degree-4 polynomial (relative error below 1e-9, far under
// float32's 6e-8), cheaper than fastExp.
func exp32(x float64) float64 {
	if !(x > -700 && x < 700) {
		return math.Exp(x)
	}
	y := x * exp32Log2e
	if y < 0 {
		y -= 0.5
	} else {
		y += 0.5
	}
	ni := int64(y)
	n := float64(ni)
	r := (x - n*expLn2Hi) - n*expLn2Lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24))))
	return p * expTable[ni&31] * math.Float64frombits(uint64(ni>>5+1023)<<52)
}
