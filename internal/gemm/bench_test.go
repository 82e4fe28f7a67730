package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchShapes are the products benchmarked: cubes, and the shapes of the
// forward pass in package probe (weights [out, in], so B transposed) for the
// synthetic 100M Llama of its benchmarks (hidden 768, FFN 2048, 128 tokens), a
// 7B Llama layer (hidden 4096, 8 key/value heads of 128, FFN 14336, 128
// tokens) and attention's two products per block of 32 query rows (256 keys,
// head size 64).
var benchShapes = []struct {
	name    string
	m, n, k int
	tB      Transpose
	big     bool // too slow for the portable kernel
}{
	{"cube", 256, 256, 256, NoTrans, false},
	{"cube", 1024, 1024, 1024, NoTrans, false},
	{"cube", 1024, 1024, 1024, Trans, true},
	{"100M-qkv", 128, 1280, 768, Trans, true},
	{"100M-gate-up", 128, 4096, 768, Trans, true},
	{"100M-down", 128, 768, 2048, Trans, true},
	{"7B-qkv", 128, 6144, 4096, Trans, true},
	{"7B-gate-up", 128, 28672, 4096, Trans, true},
	{"7B-down", 128, 4096, 14336, Trans, true},
	{"attn-scores", 32, 256, 64, NoTrans, false},
	{"attn-values", 32, 64, 256, Trans, false},
}

// BenchmarkGemm reports GFLOPS (2·m·n·k per product) for every kernel of
// this machine and every shape, named precision/kernel/shape/MxNxK with a
// suffix -Bt when B is stored transposed (bench/gemm.sh reads the sizes from
// the name); run with -cpu 1 for single-thread figures.
func BenchmarkGemm(b *testing.B) {
	for _, kr := range kernels32 {
		benchKernel(b, "f32", kr)
	}
	for _, kr := range kernels64 {
		benchKernel(b, "f64", kr)
	}
}

func benchKernel[T float](b *testing.B, prec string, kr *kernel[T]) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range benchShapes {
		if s.big && kr.name == "go" {
			continue
		}
		suffix := ""
		if s.tB == Trans {
			suffix = "-Bt"
		}
		b.Run(fmt.Sprintf("%s/%s/%s/%dx%dx%d%s", prec, kr.name, s.name, s.m, s.n, s.k, suffix), func(b *testing.B) {
			x, y, c := random[T](rng, s.m*s.k), random[T](rng, s.k*s.n), make([]T, s.m*s.n)
			ldb := s.n
			if s.tB == Trans {
				ldb = s.k
			}
			for b.Loop() {
				gemm(kr, NoTrans, s.tB, s.m, s.n, s.k, 1, x, s.k, y, ldb, 0, c, s.n)
			}
			b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
