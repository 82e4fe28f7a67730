package gemm

import (
	"fmt"
	"testing"
)

// BenchmarkPack measures the packing of B's blocks (nc × kc) for every
// kernel, B stored transposed (the weights of the forward pass: packRows) and
// as stored (packCols), in cache (n = nc: one block) and from memory (n =
// 4096: a 4096×4096 matrix block by block).
func BenchmarkPack(b *testing.B) {
	for _, kr := range kernels32 {
		benchPack(b, "f32", kr)
	}
	for _, kr := range kernels64 {
		benchPack(b, "f64", kr)
	}
}

func benchPack[T float](b *testing.B, prec string, kr *kernel[T]) {
	for _, n := range []int{kr.nc, 4096} {
		x := make([]T, n*n)
		dst := make([]T, kr.nc*kr.kc)
		for _, trans := range []Transpose{Trans, NoTrans} {
			b.Run(fmt.Sprintf("%s/%s/B%s/%d", prec, kr.name, map[Transpose]string{Trans: "ᵀ"}[trans], n), func(b *testing.B) {
				p := problem[T]{tB: trans, n: n, k: n, b: x, ldb: n}
				for b.Loop() {
					for j0 := 0; j0+kr.nc <= n; j0 += kr.nc {
						for p0 := 0; p0+kr.kc <= n; p0 += kr.kc {
							p.packB(kr.nr, kr.tr, dst, j0, kr.nc, p0, kr.kc)
						}
					}
				}
				elems := float64(n / kr.nc * kr.nc * (n / kr.kc * kr.kc))
				b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/elems, "ns/elem")
			})
		}
	}
}
