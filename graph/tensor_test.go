package graph

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
)

// storedMatrix writes a [rows, cols] F32 tensor with value 1000·i + j at [i][j]
// and returns it.
func storedMatrix(t testing.TB, rows, cols int) *checkpoint.Tensor {
	t.Helper()
	v := make([]float32, rows*cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			v[i*cols+j] = float32(1000*i + j)
		}
	}
	b := make([]byte, 4*len(v))
	if err := checkpoint.EncodeFloat32(b, v, checkpoint.F32); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := checkpoint.WriteSafetensors(&buf, []checkpoint.Entry{checkpoint.BytesEntry("m", checkpoint.F32, []int{rows, cols}, b)}, nil); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "m.safetensors")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f.Tensors[0]
}

func TestViewTransposeAndRows(t *testing.T) {
	const in, out = 130, 70 // stored [in, out], larger than the transpose block
	src := storedMatrix(t, in, out)
	for _, tc := range []struct {
		v     *View
		shape []int
		at    func(r, c int) float32
	}{
		{&View{Src: src}, []int{in, out}, func(r, c int) float32 { return float32(1000*r + c) }},
		{&View{Src: src, Lo: 3, Hi: 129}, []int{126, out}, func(r, c int) float32 { return float32(1000*(r+3) + c) }},
		{&View{Src: src, Transposed: true}, []int{out, in}, func(r, c int) float32 { return float32(1000*c + r) }},
		{&View{Src: src, Transposed: true, Lo: 5, Hi: 69}, []int{64, in}, func(r, c int) float32 { return float32(1000*c + r + 5) }},
	} {
		if !slices.Equal(tc.v.Shape(), tc.shape) {
			t.Errorf("%v: shape %v, want %v", tc.v, tc.v.Shape(), tc.shape)
		}
		d32, err := tc.v.Float32()
		if err != nil {
			t.Fatal(err)
		}
		d64, err := tc.v.Float64()
		if err != nil {
			t.Fatal(err)
		}
		if len(d32) != tc.shape[0]*tc.shape[1] || len(d64) != len(d32) {
			t.Fatalf("%v: %d values", tc.v, len(d32))
		}
		for r := 0; r < tc.shape[0]; r++ {
			for c := 0; c < tc.shape[1]; c++ {
				want := tc.at(r, c)
				if d32[r*tc.shape[1]+c] != want || d64[r*tc.shape[1]+c] != float64(want) {
					t.Fatalf("%v[%d][%d] = %v, want %v", tc.v, r, c, d32[r*tc.shape[1]+c], want)
				}
			}
		}
	}
	if (&View{Src: src, Transposed: true, Lo: 60, Hi: 71}).Whole() {
		t.Errorf("a row range is not whole")
	}
	if _, err := (&View{Src: src, Lo: 60, Hi: 131}).Float32(); err == nil {
		t.Errorf("rows out of range: no error")
	}
}

func TestTransposeMatchesDefinition(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {3, 200}, {65, 64}, {130, 7}} {
		rows, cols := sz[0], sz[1]
		d := make([]float64, rows*cols)
		for i := range d {
			d[i] = float64(i)
		}
		tr := transpose(d, rows, cols)
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				if tr[c*rows+r] != d[r*cols+c] {
					t.Fatalf("%dx%d: [%d][%d]", rows, cols, r, c)
				}
			}
		}
	}
}

func BenchmarkViewTransposed(b *testing.B) {
	src := storedMatrix(b, 1024, 4096)
	v := &View{Src: src, Transposed: true}
	b.SetBytes(src.ByteSize())
	for b.Loop() {
		if _, err := v.Float32(); err != nil {
			b.Fatal(err)
		}
	}
}
