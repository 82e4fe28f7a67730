//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// The assembly micro-kernels; see micro in kernel for the contract.

//go:noescape
func sgemm12x32AVX512(k int, a, b, c []float32, ldc int, acc bool)

//go:noescape
func dgemm12x16AVX512(k int, a, b, c []float64, ldc int, acc bool)

//go:noescape
func sgemm6x16AVX2(k int, a, b, c []float32, ldc int, acc bool)

//go:noescape
func dgemm6x8AVX2(k int, a, b, c []float64, ldc int, acc bool)

//go:noescape
func transpose16x16F32(dst *float32, ldd int, src *float32, lds int)

//go:noescape
func transpose8x8F64(dst *float64, ldd int, src *float64, lds int)

// The AVX-512 transposes of square blocks used in packing.
var (
	tr32 = &transposer[float32]{n: 16, fn: transpose16x16F32}
	tr64 = &transposer[float64]{n: 8, fn: transpose8x8F64}
)

// Block sizes, from the caches of the machine the kernels were tuned on (48
// KiB L1 and 1 MiB L2 data cache per core): a sliver of A (mr × kc) stays in
// L1, a block of B (kc × nc) in L2, a block of A (mc × kc) in L3.
var (
	avx512f32 = &kernel[float32]{name: "avx512", mr: 12, nr: 32, kc: 384, mc: 960, nc: 512, tr: tr32, micro: sgemm12x32AVX512}
	avx512f64 = &kernel[float64]{name: "avx512", mr: 12, nr: 16, kc: 256, mc: 960, nc: 384, tr: tr64, micro: dgemm12x16AVX512}
	avx2f32   = &kernel[float32]{name: "avx2", mr: 6, nr: 16, kc: 384, mc: 960, nc: 512, micro: sgemm6x16AVX2}
	avx2f64   = &kernel[float64]{name: "avx2", mr: 6, nr: 8, kc: 256, mc: 960, nc: 384, micro: dgemm6x8AVX2}
)

// archKernels returns the assembly kernels this CPU runs, fastest first.
func archKernels() (k32 []*kernel[float32], k64 []*kernel[float64]) {
	if cpu.X86.HasAVX512F {
		k32, k64 = append(k32, avx512f32), append(k64, avx512f64)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		k32, k64 = append(k32, avx2f32), append(k64, avx2f64)
	}
	return k32, k64
}
