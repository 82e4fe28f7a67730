package checkpoint

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// format describes a binary floating-point format for the reference rounding.
type format struct {
	prec      int     // significant bits
	minExp    int     // exponent of the smallest normal
	subExp    int     // exponent of the subnormal spacing
	maxFinite float64 // largest finite value
}

var (
	bf16Format = format{prec: 8, minExp: -126, subExp: -133, maxFinite: (2 - 1.0/128) * math.Ldexp(1, 127)}
	f16Format  = format{prec: 11, minExp: -14, subExp: -24, maxFinite: 65504}
)

// refRound rounds x to the format, to nearest with ties to even, by scaling its
// significand to an integer in float64 arithmetic (exact) and using
// math.RoundToEven; independent of the bit manipulations under test.
func refRound(x float64, f format) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || x == 0 {
		return x
	}
	if math.Abs(x) < math.Ldexp(1, f.minExp) {
		r := math.Ldexp(math.RoundToEven(math.Ldexp(x, -f.subExp)), f.subExp)
		if r == 0 {
			return math.Copysign(0, x)
		}
		return r
	}
	m, e := math.Frexp(x)
	r := math.Ldexp(math.RoundToEven(math.Ldexp(m, f.prec)), e-f.prec)
	if math.Abs(r) > f.maxFinite {
		return math.Inf(int(math.Copysign(1, x)))
	}
	return r
}

func same(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b && math.Signbit(a) == math.Signbit(b)
}

func decode1(t *testing.T, b []byte, dt DType) float64 {
	t.Helper()
	out := make([]float64, 1)
	if err := DecodeFloat64(out, b, dt); err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func TestEncodeTable(t *testing.T) {
	tests := []struct {
		in   float64
		dt   DType
		want uint16
	}{
		{1, BF16, 0x3f80},
		{-2, BF16, 0xc000},
		{625, BF16, 0x441c},  // 624
		{3125, BF16, 0x4543}, // 3120
		{1 + 1.0/256, BF16, 0x3f80},
		{1 + 3.0/256, BF16, 0x3f82},
		{math.Inf(1), BF16, 0x7f80},
		{math.Inf(-1), BF16, 0xff80},
		{math.Copysign(0, -1), BF16, 0x8000},
		{math.MaxFloat32, BF16, 0x7f80},
		{(2 - 1.0/128) * math.Ldexp(1, 127), BF16, 0x7f7f},
		{math.Ldexp(1, -133), BF16, 0x0001},
		{math.Ldexp(1, -134), BF16, 0x0000},
		{1, F16, 0x3c00},
		{-2, F16, 0xc000},
		{0.1, F16, 0x2e66},
		{65504, F16, 0x7bff},
		{65519, F16, 0x7bff},
		{65520, F16, 0x7c00},
		{math.Inf(-1), F16, 0xfc00},
		{math.Ldexp(1, -24), F16, 0x0001},
		{math.Ldexp(1, -25), F16, 0x0000},
		{3 * math.Ldexp(1, -25), F16, 0x0002},
		{math.Ldexp(1, -14), F16, 0x0400},
		{math.Copysign(0, -1), F16, 0x8000},
	}
	for _, tc := range tests {
		b32 := make([]byte, 2)
		if err := EncodeFloat32(b32, []float32{float32(tc.in)}, tc.dt); err != nil {
			t.Fatal(err)
		}
		b64 := make([]byte, 2)
		if err := EncodeFloat64(b64, []float64{tc.in}, tc.dt); err != nil {
			t.Fatal(err)
		}
		if float64(float32(tc.in)) == tc.in {
			if got := binary.LittleEndian.Uint16(b32); got != tc.want {
				t.Errorf("EncodeFloat32(%v, %s) = %#04x, want %#04x", tc.in, tc.dt, got, tc.want)
			}
		}
		if got := binary.LittleEndian.Uint16(b64); got != tc.want {
			t.Errorf("EncodeFloat64(%v, %s) = %#04x, want %#04x", tc.in, tc.dt, got, tc.want)
		}
	}
}

func TestNaNKept(t *testing.T) {
	for _, dt := range []DType{F64, F32, F16, BF16} {
		for _, nan := range []float64{math.NaN(), -math.NaN(), math.Float64frombits(0x7ff0000000000001)} {
			b := make([]byte, dt.Size())
			if err := EncodeFloat64(b, []float64{nan}, dt); err != nil {
				t.Fatal(err)
			}
			if v := decode1(t, b, dt); !math.IsNaN(v) || math.Signbit(v) != math.Signbit(nan) {
				t.Errorf("%s: NaN %x became %v", dt, math.Float64bits(nan), v)
			}
			if err := EncodeFloat32(b, []float32{float32(nan)}, dt); err != nil {
				t.Fatal(err)
			}
			if v := decode1(t, b, dt); !math.IsNaN(v) {
				t.Errorf("%s: float32 NaN became %v", dt, v)
			}
		}
	}
}

// TestHalfExhaustive: every BF16 and F16 bit pattern decodes to the value its
// fields define and encodes back to itself (NaN stays NaN).
func TestHalfExhaustive(t *testing.T) {
	for _, tc := range []struct {
		dt       DType
		manBits  int
		bias     int
		expWidth int
	}{{BF16, 7, 127, 8}, {F16, 10, 15, 5}} {
		expMax := 1<<tc.expWidth - 1
		src := make([]byte, 2)
		back := make([]byte, 2)
		for h := range 1 << 16 {
			binary.LittleEndian.PutUint16(src, uint16(h))
			sign := 1.0
			if h&0x8000 != 0 {
				sign = -1
			}
			exp := h >> tc.manBits & expMax
			man := h & (1<<tc.manBits - 1)
			var want float64
			switch {
			case exp == expMax && man != 0:
				want = math.NaN()
			case exp == expMax:
				want = math.Inf(int(sign))
			case exp == 0:
				want = sign * math.Ldexp(float64(man), 1-tc.bias-tc.manBits)
			default:
				want = sign * math.Ldexp(float64(man|1<<tc.manBits), exp-tc.bias-tc.manBits)
			}
			got := decode1(t, src, tc.dt)
			var f32 [1]float32
			if err := DecodeFloat32(f32[:], src, tc.dt); err != nil {
				t.Fatal(err)
			}
			if !same(got, want) || !same(float64(f32[0]), want) {
				t.Fatalf("%s %#04x decodes to %v / %v, want %v", tc.dt, h, got, f32[0], want)
			}
			if err := EncodeFloat32(back, f32[:], tc.dt); err != nil {
				t.Fatal(err)
			}
			if math.IsNaN(want) {
				if !math.IsNaN(decode1(t, back, tc.dt)) {
					t.Fatalf("%s NaN %#04x re-encodes to a number", tc.dt, h)
				}
			} else if b := binary.LittleEndian.Uint16(back); b != uint16(h) {
				t.Fatalf("%s %#04x re-encodes to %#04x", tc.dt, h, b)
			}
		}
	}
}

// TestRoundingMatchesReference compares encoding of random float32 and float64
// values (all exponent ranges, ties included) with the reference rounding.
func TestRoundingMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f32s := make([]float32, 0, 300000)
	for range 100000 {
		f32s = append(f32s, math.Float32frombits(rng.Uint32()))
	}
	for range 100000 { // near the half formats' ranges, with many ties
		e := rng.IntN(60) - 40
		m := rng.Uint32() & 0xffffff &^ (1<<rng.IntN(16) - 1)
		f32s = append(f32s, float32(math.Ldexp(float64(m), e-24)))
	}
	f64s := make([]float64, 0, 200000)
	for range 100000 {
		f64s = append(f64s, math.Float64frombits(rng.Uint64()))
	}
	for range 100000 { // double-rounding traps: a tie after rounding to float32 that is not a tie
		e := rng.IntN(60) - 40
		m := rng.Uint64()&(1<<53-1) | 1<<52
		f64s = append(f64s, math.Ldexp(float64(m), e-52))
		f64s = append(f64s, math.Ldexp(float64(1<<52|1<<(52-8)|1), e-52))
		f64s = append(f64s, math.Ldexp(float64(1<<52|1<<(52-11)|1), e-52))
	}
	for _, tc := range []struct {
		dt DType
		f  format
	}{{BF16, bf16Format}, {F16, f16Format}} {
		buf := make([]byte, 2*len(f32s))
		if err := EncodeFloat32(buf, f32s, tc.dt); err != nil {
			t.Fatal(err)
		}
		got := make([]float64, len(f32s))
		if err := DecodeFloat64(got, buf, tc.dt); err != nil {
			t.Fatal(err)
		}
		for i, x := range f32s {
			if want := refRound(float64(x), tc.f); !same(got[i], want) {
				t.Fatalf("%s: float32 %v (%#08x) encodes to %v, want %v", tc.dt, x, math.Float32bits(x), got[i], want)
			}
		}
		buf = make([]byte, 2*len(f64s))
		if err := EncodeFloat64(buf, f64s, tc.dt); err != nil {
			t.Fatal(err)
		}
		got = make([]float64, len(f64s))
		if err := DecodeFloat64(got, buf, tc.dt); err != nil {
			t.Fatal(err)
		}
		for i, x := range f64s {
			if want := refRound(x, tc.f); !same(got[i], want) {
				t.Fatalf("%s: float64 %v (%#016x) encodes to %v, want %v", tc.dt, x, math.Float64bits(x), got[i], want)
			}
		}
	}
}

func TestF64F32(t *testing.T) {
	in := []float64{1.0 / 3, math.MaxFloat64, -math.SmallestNonzeroFloat64, 1e-40, math.Inf(-1)}
	b := make([]byte, 4*len(in))
	if err := EncodeFloat64(b, in, F32); err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(in))
	if err := DecodeFloat32(out, b, F32); err != nil {
		t.Fatal(err)
	}
	for i, x := range in {
		if want := float32(x); !same(float64(out[i]), float64(want)) {
			t.Errorf("%v -> %v, want %v", x, out[i], want)
		}
	}
	b64 := make([]byte, 8*len(in))
	if err := EncodeFloat64(b64, in, F64); err != nil {
		t.Fatal(err)
	}
	out32 := make([]float32, len(in))
	if err := DecodeFloat32(out32, b64, F64); err != nil {
		t.Fatal(err)
	}
	for i, x := range in {
		if !same(float64(out32[i]), float64(float32(x))) {
			t.Errorf("F64 %v decoded to float32 %v", x, out32[i])
		}
	}
}

func TestCodecErrors(t *testing.T) {
	if err := DecodeFloat32(make([]float32, 2), make([]byte, 7), F32); err == nil {
		t.Error("short source accepted")
	}
	if err := EncodeFloat64(make([]byte, 3), make([]float64, 2), BF16); err == nil {
		t.Error("short destination accepted")
	}
	if err := DecodeFloat64(make([]float64, 1), make([]byte, 8), I64); err == nil {
		t.Error("I64 decoded as float")
	}
	if err := EncodeFloat32(make([]byte, 1), make([]float32, 1), BOOL); err == nil {
		t.Error("BOOL encoded from float")
	}
}

func TestParseDType(t *testing.T) {
	tests := []struct {
		in   string
		want DType
		ok   bool
	}{
		{"f32", F32, true}, {"float32", F32, true}, {"F32", F32, true}, {"fp32", F32, true},
		{"bf16", BF16, true}, {"bfloat16", BF16, true}, {"BF16", BF16, true}, {"torch.bfloat16", BF16, true},
		{"f16", F16, true}, {"float16", F16, true}, {"half", F16, true},
		{"f64", F64, true}, {"float64", F64, true}, {" F64 ", F64, true},
		{"i64", I64, true}, {"BOOL", BOOL, true}, {"uint8", U8, true},
		{"", "", false}, {"f8", "", false}, {"F8_E4M3", "", false}, {"float", F32, true}, {"bf32", "", false},
	}
	for _, tc := range tests {
		got, err := ParseDType(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseDType(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	sizes := map[DType]int{F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1, "F8_E4M3": 0, "": 0}
	for dt, want := range sizes {
		if got := dt.Size(); got != want {
			t.Errorf("%q.Size() = %d, want %d", dt, got, want)
		}
	}
}

// TestMantissaBits: 1 + 2^-b survives a round trip through the dtype and
// 1 + 2^-(b+1) (a tie) rounds to 1, for b = MantissaBits.
func TestMantissaBits(t *testing.T) {
	for _, dt := range []DType{F64, F32, F16, BF16} {
		b := dt.MantissaBits()
		round := func(x float64) float64 {
			buf := make([]byte, dt.Size())
			if err := EncodeFloat64(buf, []float64{x}, dt); err != nil {
				t.Fatal(err)
			}
			out := make([]float64, 1)
			if err := DecodeFloat64(out, buf, dt); err != nil {
				t.Fatal(err)
			}
			return out[0]
		}
		if x := 1 + math.Ldexp(1, -b); round(x) != x {
			t.Errorf("%s: 1+2^-%d does not survive", dt, b)
		}
		if b < 52 {
			if x := 1 + math.Ldexp(1, -b-1); round(x) != 1 {
				t.Errorf("%s: 1+2^-%d survives; MantissaBits %d is too small", dt, b+1, b)
			}
		}
	}
	for _, dt := range []DType{I64, U8, BOOL, ""} {
		if b := dt.MantissaBits(); b != 0 {
			t.Errorf("%q: MantissaBits %d, want 0", dt, b)
		}
	}
}

// TestStats: counts of NaN and infinities, the first one's index, and min,
// max and RMS over the finite values, for every float dtype.
func TestStats(t *testing.T) {
	vals := []float32{1, -2, float32(math.NaN()), 2, float32(math.Inf(1)), float32(math.Inf(-1)), 0}
	for _, dt := range []DType{F32, F16, BF16, F64} {
		var buf bytes.Buffer
		e := Float32Entry("x", dt, []int{len(vals)}, func() ([]float32, error) { return vals, nil })
		if err := WriteSafetensors(&buf, []Entry{e}, nil); err != nil {
			t.Fatal(err)
		}
		f, err := ReadHeader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "x.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.Tensors[0].Stats(nil)
		if err != nil {
			t.Fatal(err)
		}
		want := Stats{Count: 7, NaN: 1, PosInf: 1, NegInf: 1, FirstNonFinite: 2, Min: -2, Max: 2, RMS: math.Sqrt(9.0 / 4)}
		if st != want || st.NonFinite() != 3 {
			t.Errorf("%s: %+v, want %+v", dt, st, want)
		}
	}
}
