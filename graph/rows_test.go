package graph

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
)

// TestRowReader: every row range of every tensor that RowReaderOf accepts
// reads as the same rows of its Float64 and Float32 data; a transposed view
// is not accepted.
func TestRowReader(t *testing.T) {
	c, err := checkpoint.Open(filepath.Join("..", "testdata", "gpt2-random-realtok"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var attn, wte, wpe *checkpoint.Tensor
	for _, x := range c.Tensors {
		switch x.Name {
		case "h.0.attn.c_attn.weight", "transformer.h.0.attn.c_attn.weight":
			attn = x
		case "wte.weight", "transformer.wte.weight":
			wte = x
		case "wpe.weight", "transformer.wpe.weight":
			wpe = x
		}
	}
	if attn == nil || wte == nil || wpe == nil {
		t.Fatal("test model lacks c_attn, wte or wpe")
	}
	rows := wpe.Shape[0]
	dense := NewDense64(slices.Repeat([]float64{1.5, -2.25, 3}, 4), checkpoint.F64, 4, 3)
	for _, tc := range []struct {
		name string
		t    Tensor
		ok   bool
	}{
		{"whole view", NewView(wte), true},
		{"row range", &View{Src: wpe, Lo: 2, Hi: rows - 3}, true},
		{"strided rows", &View{Src: wpe, Lo: 1, Hi: 3, Stride: 4}, true},
		{"rounded view", rounded{NewView(wte), checkpoint.BF16}, true},
		{"dense", dense, true},
		{"transposed", &View{Src: attn, Transposed: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr, ok := RowReaderOf(tc.t)
			if ok != tc.ok {
				t.Fatalf("RowReaderOf: ok %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			all64, err := tc.t.Float64()
			if err != nil {
				t.Fatal(err)
			}
			all32, err := tc.t.Float32()
			if err != nil {
				t.Fatal(err)
			}
			n, cols := rowCols(tc.t.Shape())
			for _, r := range [][2]int{{0, n}, {0, 1}, {n - 1, n}, {n / 3, 2 * n / 3}} {
				got64 := make([]float64, (r[1]-r[0])*cols)
				if err := rr.ReadRows64(got64, r[0], r[1]); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got64, all64[r[0]*cols:r[1]*cols]) {
					t.Errorf("ReadRows64 %v differs from Float64's rows", r)
				}
				got32 := make([]float32, (r[1]-r[0])*cols)
				if err := rr.ReadRows32(got32, r[0], r[1]); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got32, all32[r[0]*cols:r[1]*cols]) {
					t.Errorf("ReadRows32 %v differs from Float32's rows", r)
				}
			}
			if err := rr.ReadRows64(make([]float64, cols), n, n+1); err == nil {
				t.Error("rows past the end read without an error")
			}
			if err := rr.ReadRows64(make([]float64, cols+1), 0, 1); err == nil {
				t.Error("a buffer of the wrong size read without an error")
			}
		})
	}
}
