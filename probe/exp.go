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
	y := x*exp32Log2e + expShift // rounds x·32/ln2 to an integer
	ni := int64(math.Float64bits(y) - math.Float64bits(expShift))
	n := y - expShift
	r := (x - n*expLn2Hi) - n*expLn2Lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720))))))
	return p * math.Float64frombits(expTableBits[ni&31]+uint64(ni>>5)<<52)
}

// expShift rounds x·32/ln2 to an integer in the low mantissa bits when added.
const expShift = 0x1.8p52

// expTableBits[j] are the bits of 2^(j/32), to which k<<52 adds 2^k.
var expTableBits = func() [32]uint64 {
	var t [32]uint64
	for j, v := range expTable {
		t[j] = math.Float64bits(v)
	}
	return t
}()

// exp32 is e^x accurate for float32 arithmetic: the table reduction of
// fastExp, with the rounding done by the 1.5·2⁵² shift and the power of two
// added to the table entry's exponent, and a degree-4 polynomial (relative
// error below 1e-9, far under float32's 6e-8). Cheaper than fastExp.
func exp32(x float64) float64 {
	if !(x > -700 && x < 700) {
		return math.Exp(x)
	}
	y := x*exp32Log2e + expShift
	ni := int64(math.Float64bits(y) - math.Float64bits(expShift))
	n := y - expShift
	r := (x - n*expLn2Hi) - n*expLn2Lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24))))
	return p * math.Float64frombits(expTableBits[ni&31]+uint64(ni>>5)<<52)
}
