// Package gemm multiplies dense row-major matrices in float32 and float64:
// C = alpha·op(A)·op(B) + beta·C, the general matrix product of BLAS (GEMM),
// single-threaded for small products and split over GOMAXPROCS goroutines for
// large ones.
//
// The algorithm is the layered one of Goto and van de Geijn ("Anatomy of
// high-performance matrix multiplication", ACM TOMS 34(3), 2008), as BLIS
// (github.com/flame/blis) structures it: the operands are cut into blocks that
// fit the caches, each block is copied ("packed") into a contiguous buffer in
// the order the inner loop reads it, and a small register-tiled micro-kernel
// computes an mr×nr tile of C from a packed sliver of A (mr rows) and one of B
// (nr columns) with one fused multiply-add per element and k step. Only the
// micro-kernel is written in assembly; packing, blocking, edges and the
// parallel split are Go.
//
// The micro-kernel is chosen once at start-up from the CPU's features: AVX-512
// (12×32 float32 or 12×16 float64 tiles in zmm registers), else AVX2 with FMA
// (6×16 or 6×8 in ymm registers), else a portable Go kernel, which is also
// what every other architecture runs. All of them build with the default
// toolchain (no cgo, no GOEXPERIMENT).
package gemm
