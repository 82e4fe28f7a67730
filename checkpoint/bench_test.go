package checkpoint

import (
	"math/rand/v2"
	"testing"
)

// benchValues returns n float32 values of a typical weight scale.
func benchValues(n int) []float32 {
	rng := rand.New(rand.NewPCG(3, 4))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * 0.02)
	}
	return v
}

const benchN = 1 << 20

// BenchmarkEncode measures float32 → dtype encoding; bytes/s counts the float32 input.
func BenchmarkEncode(b *testing.B) {
	for _, dt := range []DType{BF16, F16, F32} {
		b.Run(string(dt), func(b *testing.B) {
			src := benchValues(benchN)
			dst := make([]byte, benchN*dt.Size())
			b.SetBytes(4 * benchN)
			for b.Loop() {
				if err := EncodeFloat32(dst, src, dt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode measures dtype → float32 decoding; bytes/s counts the float32 output.
func BenchmarkDecode(b *testing.B) {
	for _, dt := range []DType{BF16, F16, F32} {
		b.Run(string(dt), func(b *testing.B) {
			src := make([]byte, benchN*dt.Size())
			if err := EncodeFloat32(src, benchValues(benchN), dt); err != nil {
				b.Fatal(err)
			}
			dst := make([]float32, benchN)
			b.SetBytes(4 * benchN)
			for b.Loop() {
				if err := DecodeFloat32(dst, src, dt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode64 measures float64 → dtype encoding (rounded once).
func BenchmarkEncode64(b *testing.B) {
	for _, dt := range []DType{BF16, F16} {
		b.Run(string(dt), func(b *testing.B) {
			v32 := benchValues(benchN)
			src := make([]float64, benchN)
			for i, v := range v32 {
				src[i] = float64(v)
			}
			dst := make([]byte, benchN*dt.Size())
			b.SetBytes(8 * benchN)
			for b.Loop() {
				if err := EncodeFloat64(dst, src, dt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
