package checkpoint

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"sync"
)

// Size returns the size of one element in bytes, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case I8, U8, BOOL:
		return 1
	}
	return 0
}

// IsFloat reports whether d is F64, F32, F16 or BF16.
func (d DType) IsFloat() bool { return d == F64 || d == F32 || d == F16 || d == BF16 }

// Holds reports whether every value of the float dtype e is a value of d, so
// that converting e to d rounds nothing: F64 holds every float dtype, F32 holds
// F16 and BF16, and each dtype holds itself (F16 and BF16 hold neither
// other: BF16 has fewer mantissa bits, F16 a narrower exponent range).
func (d DType) Holds(e DType) bool {
	switch {
	case !d.IsFloat() || !e.IsFloat():
		return false
	case d == e, d == F64:
		return true
	}
	return d == F32 && (e == F16 || e == BF16)
}

// MantissaBits returns the number of explicitly stored fraction bits of a
// float dtype (F64 52, F32 23, F16 10, BF16 7), which orders the float dtypes
// by precision, and 0 for the other dtypes.
func (d DType) MantissaBits() int {
	switch d {
	case F64:
		return 52
	case F32:
		return 23
	case F16:
		return 10
	case BF16:
		return 7
	}
	return 0
}

// dtypeAliases maps lower-case spellings to dtypes for ParseDType.
var dtypeAliases = map[string]DType{
	"f64": F64, "float64": F64, "fp64": F64, "double": F64,
	"f32": F32, "float32": F32, "fp32": F32, "float": F32,
	"f16": F16, "float16": F16, "fp16": F16, "half": F16,
	"bf16": BF16, "bfloat16": BF16,
	"i64": I64, "int64": I64,
	"i32": I32, "int32": I32,
	"i16": I16, "int16": I16,
	"i8": I8, "int8": I8,
	"u64": U64, "uint64": U64,
	"u32": U32, "uint32": U32,
	"u16": U16, "uint16": U16,
	"u8": U8, "uint8": U8,
	"bool": BOOL,
}

// ParseDType parses "f32", "float32", "F32", "bf16", "bfloat16", "f16", "float16", "f64".
// Spelling is case-insensitive; the safetensors names of the integer dtypes and BOOL
// and torch's names ("torch.bfloat16") are accepted too.
func ParseDType(s string) (DType, error) {
	k := strings.ToLower(strings.TrimSpace(s))
	k = strings.TrimPrefix(k, "torch.")
	if d, ok := dtypeAliases[k]; ok {
		return d, nil
	}
	return "", fmt.Errorf("checkpoint: unknown dtype %q (want f32, f16, bf16 or f64)", s)
}

// decodeChunk is the number of elements converted per step by the streaming
// readers and writers; it bounds their working memory.
const decodeChunk = 1 << 18

func checkCodec(op string, n, have int, dt DType) error {
	if !dt.IsFloat() {
		return fmt.Errorf("checkpoint: %s: dtype %q is not a float dtype", op, dt)
	}
	if want := n * dt.Size(); have < want {
		return fmt.Errorf("checkpoint: %s: %d %s elements need %d bytes, have %d", op, n, dt, want, have)
	}
	return nil
}

// decodeFloats is DecodeFloat32 or DecodeFloat64, by the type of dst.
func decodeFloats[T float32 | float64](dst []T, src []byte, dt DType) error {
	switch d := any(dst).(type) {
	case []float32:
		return DecodeFloat32(d, src, dt)
	case []float64:
		return DecodeFloat64(d, src, dt)
	}
	panic("unreachable: T is float32 or float64")
}

// encodeFloats is EncodeFloat32 or EncodeFloat64, by the type of src.
func encodeFloats[T float32 | float64](dst []byte, src []T, dt DType) error {
	switch s := any(src).(type) {
	case []float32:
		return EncodeFloat32(dst, s, dt)
	case []float64:
		return EncodeFloat64(dst, s, dt)
	}
	panic("unreachable: T is float32 or float64")
}

// DecodeFloat32 decodes len(dst) elements of dtype dt from src.
// F64 values are rounded to the nearest float32; the other float dtypes are exact.
func DecodeFloat32(dst []float32, src []byte, dt DType) error {
	if err := checkCodec("decode", len(dst), len(src), dt); err != nil {
		return err
	}
	switch dt {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	case BF16:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
		}
	case F16:
		tab := f16Table()
		for i := range dst {
			dst[i] = tab[binary.LittleEndian.Uint16(src[2*i:])]
		}
	}
	return nil
}

// f16Table returns the float32 value of every binary16 bit pattern (256 KiB,
// built on first use).
var f16Table = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = f16ToF32(uint16(i))
	}
	return &t
})

// DecodeFloat64 decodes len(dst) elements of dtype dt from src (exact for every float dtype).
func DecodeFloat64(dst []float64, src []byte, dt DType) error {
	if err := checkCodec("decode", len(dst), len(src), dt); err != nil {
		return err
	}
	switch dt {
	case F64:
		for i := range dst {
			dst[i] = math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:]))
		}
	case F32:
		for i := range dst {
			dst[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:])))
		}
	case BF16:
		for i := range dst {
			dst[i] = float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16))
		}
	case F16:
		tab := f16Table()
		for i := range dst {
			dst[i] = float64(tab[binary.LittleEndian.Uint16(src[2*i:])])
		}
	}
	return nil
}

// EncodeFloat32 encodes src into dst as dtype dt, rounding to nearest even; NaN and Inf are kept.
func EncodeFloat32(dst []byte, src []float32, dt DType) error {
	if err := checkCodec("encode", len(src), len(dst), dt); err != nil {
		return err
	}
	switch dt {
	case F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case F64:
		for i, v := range src {
			binary.LittleEndian.PutUint64(dst[8*i:], math.Float64bits(float64(v)))
		}
	case BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], f32ToBF16(v))
		}
	case F16:
		for i, v := range src {
			b := math.Float32bits(v)
			var h uint16
			if a := b & 0x7fffffff; a >= 0x38800000 && a < 0x477ff000 { // f32ToF16's fast path, inlined
				a -= 112 << 23
				h = uint16(b>>16)&0x8000 | uint16((a+0xfff+(a>>13)&1)>>13)
			} else {
				h = f32ToF16Slow(b, uint16(b>>16)&0x8000)
			}
			binary.LittleEndian.PutUint16(dst[2*i:], h)
		}
	}
	return nil
}

// EncodeFloat64 encodes src into dst as dtype dt, rounding to nearest even; NaN and Inf are kept.
// The result is rounded once: an F64 value is never rounded to float32 first.
func EncodeFloat64(dst []byte, src []float64, dt DType) error {
	if err := checkCodec("encode", len(src), len(dst), dt); err != nil {
		return err
	}
	switch dt {
	case F64:
		for i, v := range src {
			binary.LittleEndian.PutUint64(dst[8*i:], math.Float64bits(v))
		}
	case F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(float32(v)))
		}
	case BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], f32ToBF16(f64ToF32Odd(v)))
		}
	case F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], f32ToF16(f64ToF32Odd(v)))
		}
	}
	return nil
}

// f32ToBF16 rounds a float32 to bfloat16, to nearest with ties to even.
// NaN stays NaN (quieted, sign kept); ±Inf stays ±Inf; overflow gives ±Inf.
func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN
		return uint16(b>>16) | 0x0040
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// f32ToF16 rounds a float32 to IEEE binary16, to nearest with ties to even,
// subnormals included. NaN stays NaN (quieted, sign kept); overflow gives ±Inf.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	if a := b & 0x7fffffff; a >= 0x38800000 && a < 0x477ff000 {
		// Fast path: the result is a normal binary16 number (|f| in [2^-14, 65520)).
		// Rebias the exponent (127 → 15), add the round-to-nearest-even bias, shift.
		a -= 112 << 23
		return sign | uint16((a+0xfff+(a>>13)&1)>>13)
	}
	return f32ToF16Slow(b, sign)
}

// f32ToF16Slow handles zero, subnormal results, overflow, Inf and NaN.
func f32ToF16Slow(b uint32, sign uint16) uint16 {
	exp := int(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00 | uint16(man>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal (or zero) in binary16: units of 2^-24.
		shift := uint(14 - e)
		if shift > 24 {
			return sign
		}
		m := man | 0x800000 // exp > 0 here: float32 subnormals returned above
		r := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, up to Inf: both are right
	}
	return sign | uint16(r)
}

// f16ToF32 widens an IEEE binary16 value to float32 exactly.
func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		v := float32(man) * (1.0 / (1 << 24)) // exact: man < 2^10
		if sign != 0 {
			return -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}

// f64ToF32Odd converts a float64 to float32 with round-to-odd. Rounding the result
// again to a format with at most 22 significant bits (bfloat16, binary16) gives the
// same value as rounding the float64 once, which plain float32(v) would not.
func f64ToF32Odd(v float64) float32 {
	if math.IsNaN(v) {
		return float32(v)
	}
	t := float32(v)
	if float64(t) == v {
		return t
	}
	if math.Abs(float64(t)) > math.Abs(v) { // rounded away from zero (or to Inf): step back
		b := math.Float32bits(t)
		if b&0x7fffffff == 0 {
			return t
		}
		t = math.Float32frombits(b - 1)
	}
	return math.Float32frombits(math.Float32bits(t) | 1)
}
