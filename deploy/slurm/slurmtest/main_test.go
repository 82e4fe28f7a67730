package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSafetensors writes a file with tensors a (F32, 2×3: 0..5), b (BF16, 2: 1, 2) and c (F64, 1: 7).
func writeSafetensors(t *testing.T) string {
	t.Helper()
	hdr := map[string]any{
		"__metadata__": map[string]string{"k": "v"},
		"a":            map[string]any{"dtype": "F32", "shape": []int{2, 3}, "data_offsets": []int{0, 24}},
		"b":            map[string]any{"dtype": "BF16", "shape": []int{2}, "data_offsets": []int{24, 28}},
		"c":            map[string]any{"dtype": "F64", "shape": []int{1}, "data_offsets": []int{28, 36}},
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 36)
	for i := 0; i < 6; i++ {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(i)))
	}
	encode("BF16", 1, data[24:])
	encode("BF16", 2, data[26:])
	encode("F64", 7, data[28:])
	buf := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	buf = append(append(buf, h...), data...)
	p := filepath.Join(t.TempDir(), "model.safetensors")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPatch(t *testing.T) {
	p := writeSafetensors(t)
	before, _ := os.ReadFile(p)
	for _, args := range [][]string{{p, "a", "4", "0.5"}, {p, "b", "1", "-1"}, {p, "c"}} {
		if err := patchCmd(args, io.Discard); err != nil {
			t.Fatal(args, err)
		}
	}
	after, _ := os.ReadFile(p)
	hlen := 8 + int(binary.LittleEndian.Uint64(after))
	if string(after[:hlen]) != string(before[:hlen]) {
		t.Fatal("the header changed")
	}
	d := after[hlen:]
	for i := 0; i < 6; i++ {
		want := float32(i)
		if i == 4 {
			want = 4.5
		}
		if got := math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:])); got != want {
			t.Errorf("a[%d] = %v, want %v", i, got, want)
		}
	}
	if got := decode("BF16", d[24:]); got != 1 {
		t.Errorf("b[0] = %v, want 1", got)
	}
	if got := decode("BF16", d[26:]); got != 1 {
		t.Errorf("b[1] = %v, want 1", got)
	}
	if got := decode("F64", d[28:]); got != 8 {
		t.Errorf("c[0] = %v, want 8", got)
	}
	for _, bad := range [][]string{{p, "nope"}, {p, "a", "6"}, {p, "a", "-1"}} {
		if err := patchCmd(bad, io.Discard); err == nil {
			t.Errorf("patch %v: no error", bad)
		}
	}
}

func TestF16(t *testing.T) {
	b := make([]byte, 2)
	for _, v := range []float64{0, 1, -2.5, 0.099975586, 65504, 6.1035156e-05, 5.9604645e-08} {
		encode("F16", v, b)
		if got := decode("F16", b); math.Abs(got-v) > math.Abs(v)*1e-3 {
			t.Errorf("F16 %v round trip gives %v", v, got)
		}
	}
}

func TestDiff(t *testing.T) {
	var a, b any
	must := func(s string, v *any) {
		if err := json.Unmarshal([]byte(s), v); err != nil {
			t.Fatal(err)
		}
	}
	must(`{"max_abs_logit": 20, "verdict": "PASS", "x": [1, 2, 3], "slice": 1, "o": {"n": null}}`, &a)
	must(`{"max_abs_logit": 20, "verdict": "PASS", "x": [1, 2, 3.0000001], "o": {"n": null}}`, &b)
	skip := map[string]bool{"slice": true}
	if d := diff("$", a, b, 0, skip, nil); len(d) != 1 || !strings.Contains(d[0], "$.x[2]") {
		t.Errorf("exact: %v", d)
	}
	if d := diff("$", a, b, 1e-6, skip, nil); len(d) != 0 {
		t.Errorf("within tolerance: %v", d)
	}
	if d := diff("$", a, b, 1e-6, nil, nil); len(d) != 1 || !strings.Contains(d[0], "$.slice: only in the first") {
		t.Errorf("missing key: %v", d)
	}
	must(`{"max_abs_logit": 20, "verdict": "FAIL", "x": [1, 2], "o": {"n": 0}}`, &b)
	if d := diff("$", a, b, 1, skip, nil); len(d) != 3 {
		t.Errorf("want 3 differences (verdict, length, null vs number), got %v", d)
	}
}

func TestJSONGet(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(p, []byte(`{"layers": 5, "merged_from": ["0:2", "2:5"], "verdict": "PASS", "o": {"a": 1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"layers": "5\n", "merged_from": "0:2\n2:5\n", "verdict": "PASS\n", "o": "{\"a\":1}\n"} {
		var buf bytes.Buffer
		if err := jsongetCmd([]string{p, key}, &buf); err != nil || buf.String() != want {
			t.Errorf("jsonget %s = %q, %v; want %q", key, buf.String(), err, want)
		}
	}
	if err := jsongetCmd([]string{p, "nope"}, io.Discard); err == nil {
		t.Error("jsonget of a missing key: no error")
	}
}
