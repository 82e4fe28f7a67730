package checkpoint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	oracle "github.com/nlpodyssey/safetensors"
)

const (
	hfSamples   = "../testdata/safetensors-hf-samples"
	tattletale  = "../testdata/safetensors-tattletale"
	stories260k = "../testdata/stories260k"
)

// intValues decodes integer and BOOL tensor data to float64 (exact for the test data).
func intValues(t *testing.T, tn *Tensor) []float64 {
	t.Helper()
	b, err := tn.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	n := tn.NumElements()
	out := make([]float64, n)
	for i := range out {
		switch tn.DType {
		case U8, BOOL:
			out[i] = float64(b[i])
		case I8:
			out[i] = float64(int8(b[i]))
		case U16:
			out[i] = float64(binary.LittleEndian.Uint16(b[2*i:]))
		case I16:
			out[i] = float64(int16(binary.LittleEndian.Uint16(b[2*i:])))
		case U32:
			out[i] = float64(binary.LittleEndian.Uint32(b[4*i:]))
		case I32:
			out[i] = float64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		case U64:
			out[i] = float64(binary.LittleEndian.Uint64(b[8*i:]))
		case I64:
			out[i] = float64(int64(binary.LittleEndian.Uint64(b[8*i:])))
		default:
			t.Fatalf("intValues: %s", tn.DType)
		}
	}
	return out
}

// values decodes any tensor to float64.
func values(t *testing.T, tn *Tensor) []float64 {
	t.Helper()
	if tn.DType.IsFloat() {
		v, err := tn.Float64()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return intValues(t, tn)
}

// TestHFSamples reads the official 2022 sample files: each tensor is
// np.array(range(-3, 3)) in its dtype (unsigned types wrap), shape [6], metadata
// {"test": "a"} (testdata/safetensors-hf-samples/PROVENANCE.md).
func TestHFSamples(t *testing.T) {
	letters := map[string]DType{"B": U8, "H": U16, "I": U32, "b": I8, "h": I16, "i": I32, "e": F16, "f": F32, "d": F64}
	wrap := map[DType]float64{U8: 256, U16: 65536, U32: 1 << 32}
	files := []string{"overall", "sample_F16", "sample_F32", "sample_F64", "sample_I16", "sample_I32", "sample_I8", "sample_U16", "sample_U32", "sample_U8"}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			f, err := OpenFile(filepath.Join(hfSamples, name+".safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Metadata["test"] != "a" || len(f.Metadata) != 1 {
				t.Errorf("metadata = %v, want {test: a}", f.Metadata)
			}
			want := 1
			if name == "overall" {
				want = 9
			}
			if len(f.Tensors) != want {
				t.Fatalf("%d tensors, want %d", len(f.Tensors), want)
			}
			for _, tn := range f.Tensors {
				dt, ok := letters[tn.Name]
				if !ok || tn.DType != dt {
					t.Errorf("tensor %q has dtype %s, want %s", tn.Name, tn.DType, dt)
					continue
				}
				if name != "overall" && name != "sample_"+string(dt) {
					t.Errorf("file %s holds dtype %s", name, dt)
				}
				if len(tn.Shape) != 1 || tn.Shape[0] != 6 {
					t.Errorf("tensor %q shape %v, want [6]", tn.Name, tn.Shape)
				}
				got := values(t, tn)
				for i, v := range got {
					w := float64(i - 3)
					if w < 0 && wrap[dt] != 0 {
						w += wrap[dt]
					}
					if v != w {
						t.Errorf("tensor %q [%d] = %v, want %v", tn.Name, i, v, w)
					}
				}
			}
		})
	}
}

// TestVandermonde: [5,5] tensors holding (r+1)^(c+1) in F64, F32 and BF16; the BF16
// copy rounds 625 to 624 and 3125 to 3120 (testdata/safetensors-tattletale/PROVENANCE.md).
func TestVandermonde(t *testing.T) {
	f, err := OpenFile(filepath.Join(tattletale, "vandermonde.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Tensors) != 3 {
		t.Fatalf("%d tensors, want 3", len(f.Tensors))
	}
	for _, tn := range f.Tensors {
		if len(tn.Shape) != 2 || tn.Shape[0] != 5 || tn.Shape[1] != 5 {
			t.Errorf("%s: shape %v", tn.Name, tn.Shape)
			continue
		}
		if !strings.HasPrefix(tn.Name, string(tn.DType)+"_") {
			t.Errorf("%s has dtype %s", tn.Name, tn.DType)
		}
		got32, err := tn.Float32()
		if err != nil {
			t.Fatal(err)
		}
		got64 := values(t, tn)
		for r := range 5 {
			for c := range 5 {
				w := math.Pow(float64(r+1), float64(c+1))
				if tn.DType == BF16 {
					switch w {
					case 625:
						w = 624
					case 3125:
						w = 3120
					}
				}
				if got64[5*r+c] != w || float64(got32[5*r+c]) != w {
					t.Errorf("%s[%d][%d] = %v / %v, want %v", tn.Name, r, c, got64[5*r+c], got32[5*r+c], w)
				}
			}
		}
		// A range of elements (rows 1 to 3) reads what the whole tensor holds there.
		r32, err := tn.Float32Range(5, 20)
		if err != nil {
			t.Fatal(err)
		}
		r64, err := tn.Float64Range(5, 20)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r32, got32[5:20]) || !slices.Equal(r64, got64[5:20]) {
			t.Errorf("%s: elements [5, 20) %v / %v, want %v", tn.Name, r32, r64, got64[5:20])
		}
		for _, bad := range [][2]int{{-1, 3}, {20, 26}, {4, 3}} {
			if _, err := tn.Float32Range(bad[0], bad[1]); err == nil || !strings.Contains(err.Error(), "outside") {
				t.Errorf("%s: elements %v: %v", tn.Name, bad, err)
			}
		}
	}
}

// fixturePattern computes the value of element flat of a tattletale fixture
// (tests/testgen/generate_fixtures.py in mratsim/tattletale).
func fixturePattern(pattern string, dt DType, shape []int, flat int) float64 {
	idx := make([]int, len(shape))
	rem := flat
	for j := len(shape) - 1; j >= 0; j-- {
		idx[j] = rem % shape[j]
		rem /= shape[j]
	}
	v := fixtureValue(pattern, dt, shape, idx, flat)
	if dt == BOOL && v != 0 {
		return 1 // numpy's astype(bool)
	}
	return v
}

func fixtureValue(pattern string, dt DType, shape, idx []int, flat int) float64 {
	switch pattern {
	case "gradient":
		if dt == BOOL {
			return float64(flat % 2)
		}
		return float64(flat)
	case "alternating":
		return float64(flat % 2)
	case "repeating":
		return float64(flat%10 + 1)
	case "checkerboard":
		s := 0
		for _, v := range idx {
			s += v
		}
		if s%2 == 0 {
			return 1
		}
		return 0
	case "identity":
		// for i < min(shape): idx_j = (i * stride_j) % shape_j, stride = cumprod((1,)+shape[:-1])
		m := shape[0]
		for _, d := range shape {
			m = min(m, d)
		}
		for i := range m {
			stride, hit := 1, true
			for j := range shape {
				if (i*stride)%shape[j] != idx[j] {
					hit = false
				}
				stride *= shape[j]
			}
			if hit {
				return 1
			}
		}
		return 0
	}
	panic("unknown pattern " + pattern)
}

// TestTattletaleFixtures checks every tensor {DTYPE}_{pattern}_{shape} against the
// generator's formula.
func TestTattletaleFixtures(t *testing.T) {
	for _, tc := range []struct {
		file     string
		tensors  int
		patterns string
	}{
		{"fixtures.safetensors", 132, "gradient alternating repeating"},
		{"safetensors_fixtures.safetensors", 240, "gradient identity checkerboard alternating repeating"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := OpenFile(filepath.Join(tattletale, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if len(f.Tensors) != tc.tensors {
				t.Fatalf("%d tensors, want %d", len(f.Tensors), tc.tensors)
			}
			for _, tn := range f.Tensors {
				parts := strings.Split(tn.Name, "_")
				if len(parts) != 3 {
					t.Fatalf("unexpected name %q", tn.Name)
				}
				if DType(parts[0]) != tn.DType {
					t.Errorf("%s: dtype %s", tn.Name, tn.DType)
				}
				if !strings.Contains(tc.patterns, parts[1]) {
					t.Errorf("%s: unexpected pattern", tn.Name)
				}
				var shape []int
				for _, s := range strings.Split(parts[2], "x") {
					d, _ := strconv.Atoi(s)
					shape = append(shape, d)
				}
				if fmt.Sprint(shape) != fmt.Sprint(tn.Shape) {
					t.Errorf("%s: shape %v", tn.Name, tn.Shape)
					continue
				}
				for i, v := range values(t, tn) {
					if w := fixturePattern(parts[1], tn.DType, shape, i); v != w {
						t.Errorf("%s[%d] = %v, want %v", tn.Name, i, v, w)
						break
					}
				}
			}
		})
	}
}

// st builds a safetensors file from a header string and data.
func st(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// withLength builds a file whose length prefix is n, followed by rest.
func withLength(n uint64, rest string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
}

type headerCase struct {
	name string
	data []byte
	want string // "" for a valid file, else a substring of the error
	// oracleDiffers explains why nlpodyssey/safetensors decides otherwise.
	oracleDiffers string
}

func headerCases() []headerCase {
	z := func(n int) []byte { return make([]byte, n) }
	return []headerCase{
		// valid
		{name: "empty header object", data: st("{}", nil)},
		{name: "only metadata", data: st(`{"__metadata__":{"a":"b"}}`, nil)},
		{name: "metadata null", data: st(`{"__metadata__":null,"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, z(1))},
		{name: "padded with spaces", data: st(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}      `, z(8))},
		{name: "leading whitespace", data: st(`  {"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, z(8))},
		{name: "scalar", data: st(`{"x":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}`, z(8))},
		{name: "zero-size tensors", data: st(`{"a":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"b":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"c":{"dtype":"I8","shape":[0],"data_offsets":[4,4]}}`, z(4))},
		{name: "unsorted records", data: st(`{"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"a":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}`, z(4))},
		{name: "zero dim after huge dim", data: st(`{"x":{"dtype":"F32","shape":[4611686018427387904,0],"data_offsets":[0,0]}}`, nil)},

		// malformed: length prefix
		{name: "empty file", data: nil, want: "too short for the 8-byte header length"},
		{name: "7 bytes", data: z(7), want: "too short for the 8-byte header length"},
		{name: "huge header length", data: withLength(math.MaxUint64, "{}"), want: "exceeds the limit of 100000000 bytes"},
		{name: "header length just over the limit", data: withLength(100_000_001, "{}"), want: "exceeds the limit"},
		{name: "header length past the end", data: withLength(100, "{}"), want: "runs past the end of the file"},
		{name: "zero header length", data: withLength(0, ""), want: "header is empty"},
		// malformed: JSON
		{name: "not JSON", data: st("hello world", nil), want: "not valid JSON"},
		{name: "JSON array", data: st(`[1,2]`, nil), want: "not a JSON object"},
		{name: "JSON string", data: st(`"x"`, nil), want: "not a JSON object"},
		{name: "truncated JSON", data: st(`{"x":{"dtype":"U8"`, nil), want: "not valid JSON"},
		{name: "data after the object", data: st(`{} {}`, nil), want: "after its JSON object"},
		{name: "non-UTF-8 header", data: st("{\"a\xff\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", z(1)), want: "not valid UTF-8",
			oracleDiffers: "encoding/json replaces invalid UTF-8 with U+FFFD; the official Rust implementation rejects it"},
		{name: "duplicate names, same record", data: st(`{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, z(1)), want: `tensor "x": duplicate name`,
			oracleDiffers: "encoding/json keeps the last duplicate; the format forbids duplicates"},
		{name: "duplicate names, different records", data: st(`{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"x":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, z(2)), want: `tensor "x": duplicate name`},
		{name: "duplicate metadata", data: st(`{"__metadata__":{"a":"b"},"__metadata__":{"a":"c"}}`, nil), want: "duplicate \"__metadata__\"",
			oracleDiffers: "encoding/json keeps the last duplicate"},
		{name: "metadata with a number", data: st(`{"__metadata__":{"a":1}}`, nil), want: `"__metadata__" key "a" is a number, not a string`},
		{name: "metadata with an object", data: st(`{"__metadata__":{"a":{"b":"c"}}}`, nil), want: `"__metadata__" key "a" is an object, not a string`},
		{name: "metadata is a string", data: st(`{"__metadata__":"pt"}`, nil), want: `"__metadata__" is not an object of strings`},
		{name: "metadata is an array", data: st(`{"__metadata__":["a"]}`, nil), want: `"__metadata__" is not an object of strings`},
		// malformed: records
		{name: "unknown dtype", data: st(`{"x":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}`, z(4)), want: `tensor "x": unknown dtype "F17"`},
		{name: "FP8 dtype", data: st(`{"x":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, z(1)), want: `unknown dtype "F8_E4M3"`},
		{name: "lower-case dtype", data: st(`{"x":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}`, z(4)), want: `unknown dtype "f32"`},
		{name: "dtype not a string", data: st(`{"x":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, z(4)), want: "dtype is a number"},
		{name: "missing dtype", data: st(`{"x":{"shape":[1],"data_offsets":[0,4]}}`, z(4)), want: `entry has no "dtype"`},
		{name: "missing shape", data: st(`{"x":{"dtype":"U8","data_offsets":[0,1]}}`, z(1)), want: `tensor "x": entry has no "shape"`},
		{name: "wrong key instead of shape", data: st(`{"x":{"dtype":"U8","data_offsets":[0,1],"foo":1}}`, z(1)), want: `unexpected key "foo"`},
		{name: "extra key", data: st(`{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"strides":[1]}}`, z(1)), want: `unexpected key "strides"`},
		{name: "record is null", data: st(`{"x":null}`, nil), want: `tensor "x": entry is null`},
		{name: "record is a number", data: st(`{"x":3}`, nil), want: `tensor "x": entry is a number`},
		{name: "negative shape", data: st(`{"x":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}`, nil), want: `tensor "x": shape: element 0 (-1)`},
		{name: "float shape", data: st(`{"x":{"dtype":"U8","shape":[2.0],"data_offsets":[0,2]}}`, z(2)), want: `tensor "x": shape: element 0 (2.0)`},
		{name: "shape not an array", data: st(`{"x":{"dtype":"U8","shape":2,"data_offsets":[0,2]}}`, z(2)), want: `tensor "x": shape: a number is not an array`},
		{name: "string offsets", data: st(`{"x":{"dtype":"U8","shape":[2],"data_offsets":["0","2"]}}`, z(2)), want: `tensor "x": data_offsets: element 0`},
		{name: "three offsets", data: st(`{"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2,4]}}`, z(2)), want: "data_offsets has 3 numbers, want 2"},
		{name: "offset beyond uint64", data: st(`{"x":{"dtype":"U8","shape":[2],"data_offsets":[0,18446744073709551616]}}`, z(2)), want: "data_offsets: element 1"},
		{name: "element count overflow", data: st(`{"x":{"dtype":"F32","shape":[4294967296,4294967296,2],"data_offsets":[0,0]}}`, nil), want: `tensor "x": shape [4294967296 4294967296 2] of dtype F32 overflows`},
		{name: "byte count overflow", data: st(`{"x":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}}`, nil), want: "overflows"},
		// malformed: offsets and sizes
		{name: "wrong byte length", data: st(`{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, z(8)), want: `tensor "x": data offsets [0, 8) hold 8 bytes, but shape [3] of dtype F32 needs 12`},
		{name: "wrong byte length bf16", data: st(`{"x":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,16]}}`, z(16)), want: "needs 8"},
		{name: "overlapping offsets", data: st(`{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}}`, z(12)), want: `tensor "b": data offsets [4, 12) overlap the previous tensor "a"`},
		{name: "same offsets twice", data: st(`{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}`, z(8)), want: `overlap the previous tensor "a"`},
		{name: "gap between tensors", data: st(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}}`, z(12)), want: `tensor "b": data offsets [8, 12) leave a gap of 4 bytes after the previous tensor "a"`},
		{name: "data not starting at 0", data: st(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}`, z(8)), want: `tensor "a": data offsets [4, 8) leave a gap`},
		{name: "end before begin", data: st(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[0],"data_offsets":[8,4]}}`, z(8)), want: `tensor "b": data offsets [8, 4) end before they begin`},
		{name: "truncated data", data: st(`{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, z(8)), want: "file is truncated"},
		{name: "huge end offset", data: st(`{"x":{"dtype":"U8","shape":[9223372036854775807],"data_offsets":[0,9223372036854775807]}}`, z(8)), want: "file is truncated"},
		{name: "dimension beyond int64", data: st(`{"x":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,18446744073709551615]}}`, z(8)), want: "shape: element 0 (18446744073709551615)"},
		{name: "trailing unindexed bytes", data: st(`{"x":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, z(5)), want: "1 bytes after the end of the tensor data are not covered"},
		{name: "data but no tensors", data: st(`{}`, z(3)), want: "3 bytes after the end of the tensor data are not covered"},
	}
}

// TestReadHeaderCases runs the valid and malformed headers through OpenFile (the
// error must name the file and the problem) and cross-checks accept/reject with
// nlpodyssey/safetensors.
func TestReadHeaderCases(t *testing.T) {
	dir := t.TempDir()
	malformed := 0
	for i, tc := range headerCases() {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("case%02d.safetensors", i))
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := OpenFile(path)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid file rejected: %v", err)
				}
				f.Close()
			} else {
				malformed++
				if err == nil {
					f.Close()
					t.Fatalf("malformed file accepted, want error containing %q", tc.want)
				}
				msg := err.Error()
				if !strings.Contains(msg, path) || !strings.Contains(msg, tc.want) {
					t.Errorf("error %q\n does not name the file %s and the problem %q", msg, path, tc.want)
				}
			}
			_, oerr := oracle.Deserialize(tc.data)
			ours, theirs := err == nil, oerr == nil
			if tc.oracleDiffers != "" {
				if ours == theirs {
					t.Errorf("expected the oracle to differ (%s), both give accept=%v", tc.oracleDiffers, ours)
				}
				return
			}
			if ours != theirs {
				t.Errorf("accept=%v but nlpodyssey/safetensors accept=%v (its error: %v)", ours, theirs, oerr)
			}
		})
	}
	if malformed < 25 {
		t.Errorf("only %d malformed header cases", malformed)
	}
}

// TestSamplesAgreeWithOracle reads every sample with nlpodyssey/safetensors too and
// compares names, dtypes, shapes and bytes.
func TestSamplesAgreeWithOracle(t *testing.T) {
	var paths []string
	for _, d := range []string{hfSamples, tattletale, stories260k} {
		m, _ := filepath.Glob(filepath.Join(d, "*.safetensors"))
		paths = append(paths, m...)
	}
	if len(paths) < 14 {
		t.Fatalf("only %d sample files found", len(paths))
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := oracle.Deserialize(data)
		if err != nil {
			t.Fatalf("%s: oracle: %v", p, err)
		}
		f, err := ReadHeader(bytes.NewReader(data), int64(len(data)), p)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Tensors) != ref.Len() {
			t.Errorf("%s: %d tensors, oracle %d", p, len(f.Tensors), ref.Len())
		}
		for _, tn := range f.Tensors {
			rv, ok := ref.Tensor(tn.Name)
			if !ok {
				t.Errorf("%s: oracle lacks %q", p, tn.Name)
				continue
			}
			b, err := tn.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if rv.DType().String() != string(tn.DType) || fmt.Sprint(rv.Shape()) != fmt.Sprint(tn.Shape) || !bytes.Equal(rv.Data(), b) {
				t.Errorf("%s: tensor %q differs from the oracle", p, tn.Name)
			}
		}
	}
}

// limitReaderAt records the furthest byte read.
type limitReaderAt struct {
	data []byte
	max  int64
}

func (r *limitReaderAt) ReadAt(p []byte, off int64) (int, error) {
	r.max = max(r.max, off+int64(len(p)))
	return bytes.NewReader(r.data).ReadAt(p, off)
}

// TestHeaderOnlyRead checks that parsing reads only the length and the header, and
// that tensor data is read lazily.
func TestHeaderOnlyRead(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(stories260k, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	r := &limitReaderAt{data: data}
	f, err := ReadHeader(r, int64(len(data)), "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	n := int64(binary.LittleEndian.Uint64(data))
	if r.max != 8+n {
		t.Errorf("parsing read up to byte %d, want exactly the %d header bytes", r.max, 8+n)
	}
	last := f.Tensors[len(f.Tensors)-1]
	if _, err := last.Bytes(); err != nil {
		t.Fatal(err)
	}
	if r.max != int64(len(data)) {
		t.Errorf("reading the last tensor reached byte %d, want %d", r.max, len(data))
	}
}

// TestTensorReadErrors: non-float decoding and closed files give errors naming the tensor.
func TestTensorReadErrors(t *testing.T) {
	f, err := OpenFile(filepath.Join(hfSamples, "sample_I32.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	tn := f.Tensors[0]
	if _, err := tn.Float32(); err == nil || !strings.Contains(err.Error(), `tensor "i": dtype I32 is not a float`) {
		t.Errorf("Float32 on I32: %v", err)
	}
	if _, err := tn.Float64(); err == nil {
		t.Error("Float64 on I32 succeeded")
	}
	f.Close()
	if _, err := tn.Bytes(); err == nil || !strings.Contains(err.Error(), "sample_I32.safetensors") {
		t.Errorf("read after Close: %v", err)
	}
}

// seedFuzz adds every sample file and the header cases to a fuzz corpus.
func seedFuzz(f *testing.F) {
	for _, d := range []string{hfSamples, tattletale, stories260k} {
		m, _ := filepath.Glob(filepath.Join(d, "*.safetensors"))
		for _, p := range m {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			if len(data) < 1<<16 {
				f.Add(data)
			}
		}
	}
	for _, tc := range headerCases() {
		f.Add(tc.data)
	}
}

// FuzzReadHeader: no input panics; an accepted file is also accepted by
// nlpodyssey/safetensors, with the same tensors and bytes.
func FuzzReadHeader(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ReadHeader(bytes.NewReader(data), int64(len(data)), "fuzz.safetensors")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "checkpoint: fuzz.safetensors: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		ref, oerr := oracle.Deserialize(data)
		if oerr != nil {
			t.Fatalf("accepted, but the oracle rejects: %v", oerr)
		}
		if ref.Len() != len(file.Tensors) {
			t.Fatalf("%d tensors, oracle %d", len(file.Tensors), ref.Len())
		}
		var end int64
		for _, tn := range file.Tensors {
			b, err := tn.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			rv, ok := ref.Tensor(tn.Name)
			if !ok || !bytes.Equal(rv.Data(), b) {
				t.Fatalf("tensor %q differs from the oracle", tn.Name)
			}
			if tn.offset < end {
				t.Fatalf("tensor %q overlaps", tn.Name)
			}
			end = tn.offset + tn.size
		}
	})
}
