package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// swapRows swaps rows a and b of a row-major [rows, cols] matrix.
func swapRows(v []float32, cols, a, b int) {
	for j := range cols {
		v[a*cols+j], v[b*cols+j] = v[b*cols+j], v[a*cols+j]
	}
}

// swapCols swaps columns a and b of a row-major [rows, cols] matrix.
func swapCols(v []float32, cols, a, b int) {
	for r := 0; r < len(v)/cols; r++ {
		v[r*cols+a], v[r*cols+b] = v[r*cols+b], v[r*cols+a]
	}
}

// TestCheckSensitivity: a LEMON output's values were rounded to F32 on
// storage; grow check judges it by the deviation that rounding actually
// causes (re-running the operator), not the float32 rule. Edits that move
// the outputs more (a q_proj weight +1e-3, a down_proj weight +1e-5,
// rope_theta +1) fail; edits that keep the function (two query heads of one
// key/value group swapped with their o_proj columns; one FFN unit swapped in
// up, gate and down) pass.
func TestCheckSensitivity(t *testing.T) {
	src := testModel("stories260k")
	lemon := filepath.Join(t.TempDir(), "lemon")
	if _, _, err := growExec(t, "expand", src, "-o", lemon, "--method", "lemon", "--hidden", "100", "--heads", "10",
		"--kv-heads", "5", "--ffn", "268", "--quiet", "--no-check"); err != nil {
		t.Fatal(err)
	}
	const d = 8 // head_dim; query heads 0 and 1 share key/value head 0
	layer := "model.layers.2."
	for _, c := range []struct {
		name  string
		edit  map[string]func([]float32, []int)
		cfg   func(map[string]any)
		code  int
		first string
	}{
		{"unchanged", nil, nil, 0, ""},
		{"q_proj +1e-3", map[string]func([]float32, []int){layer + "self_attn.q_proj.weight": func(v []float32, _ []int) { v[5] += 1e-3 }}, nil, 1, "exceeds"},
		{"down_proj +1e-5", map[string]func([]float32, []int){layer + "mlp.down_proj.weight": func(v []float32, _ []int) { v[7] += 1e-5 }}, nil, 1, "exceeds"},
		{"rope_theta +1", nil, func(m map[string]any) { m["rope_theta"] = m["rope_theta"].(float64) + 1 }, 1, "config: rope_theta"},
		{"query heads swapped in a group", map[string]func([]float32, []int){
			layer + "self_attn.q_proj.weight": func(v []float32, sh []int) {
				for j := range d {
					swapRows(v, sh[1], 0*d+j, 1*d+j)
				}
			},
			layer + "self_attn.o_proj.weight": func(v []float32, sh []int) {
				for j := range d {
					swapCols(v, sh[1], 0*d+j, 1*d+j)
				}
			}}, nil, 0, ""},
		{"an FFN unit swapped", map[string]func([]float32, []int){
			layer + "mlp.up_proj.weight":   func(v []float32, sh []int) { swapRows(v, sh[1], 3, 200) },
			layer + "mlp.gate_proj.weight": func(v []float32, sh []int) { swapRows(v, sh[1], 3, 200) },
			layer + "mlp.down_proj.weight": func(v []float32, sh []int) { swapCols(v, sh[1], 3, 200) }}, nil, 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, lemon)
			if c.edit != nil {
				editTensors(t, dir, c.edit)
			}
			if c.cfg != nil {
				editConfig(t, dir, c.cfg)
			}
			stdout, stderr, err := growExec(t, "check", src, dir, "--json")
			if code := exitCode(err); code != c.code {
				t.Fatalf("exit %d (%v), want %d\n%s%s", code, err, c.code, stdout, stderr)
			}
			var rep struct {
				Verdict string   `json:"verdict"`
				Notes   []string `json:"notes"`
			}
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatal(err)
			}
			t.Logf("verdict: %s", rep.Verdict)
			if c.code != 0 && !strings.Contains(rep.Verdict, c.first) {
				t.Errorf("verdict %q, want it to say %q", rep.Verdict, c.first)
			}
			if c.code == 0 && !strings.Contains(strings.Join(rep.Notes, "\n"), "sensitivity: the tolerance is") {
				t.Errorf("the notes do not give the tolerance used: %q", rep.Notes)
			}
		})
	}
}
