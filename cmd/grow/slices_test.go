package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grow-ml/grow/probe"
)

// TestCheckSlices runs grow check --plan-slices, --blocks and --merge on
// stories260k and its HyperCloning ×2 output: the merge of every plan passes
// as the whole check does (one slice: the same JSON report), a missing
// slice is named, and --blocks is validated.
func TestCheckSlices(t *testing.T) {
	src := testModel("stories260k")
	dir := t.TempDir()
	dst := filepath.Join(dir, "x2")
	if code := runWith([]string{"expand", src, "-o", dst, "--method", "hypercloning", "--width-factor", "2", "--no-check", "--quiet"},
		io.Discard, io.Discard); code != 0 {
		t.Fatalf("expand: exit %d", code)
	}
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := runWith(args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, whole, _ := run("check", src, dst, "--json")
	if code != 0 {
		t.Fatalf("whole check: exit %d", code)
	}
	for _, n := range []string{"1", "2", "5"} {
		code, plan, stderr := run("check", src, dst, "--plan-slices", n)
		if code != 0 {
			t.Fatalf("--plan-slices %s: exit %d: %s", n, code, stderr)
		}
		var files []string
		for _, b := range strings.Fields(plan) {
			f := filepath.Join(dir, "slice-"+n+"-"+strings.ReplaceAll(b, ":", "-")+".json")
			code, rep, stderr := run("check", src, dst, "--blocks", b, "--json", "--report", f)
			if code != 0 {
				t.Fatalf("--blocks %s: exit %d: %s", b, code, stderr)
			}
			if written, err := os.ReadFile(f); err != nil || string(written) != rep {
				t.Fatalf("--report %s differs from the --json output (%v)", f, err)
			}
			files = append(files, f)
		}
		if len(files) != min(5, map[string]int{"1": 1, "2": 2, "5": 5}[n]) {
			t.Fatalf("--plan-slices %s: %q", n, plan)
		}
		code, merged, stderr := run(append([]string{"check", "--json", "--merge"}, files...)...)
		if code != 0 {
			t.Fatalf("merge of %d: exit %d: %s", len(files), code, stderr)
		}
		var m, w probe.Report
		if err := json.Unmarshal([]byte(merged), &m); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(whole), &w); err != nil {
			t.Fatal(err)
		}
		if m.Verdict != w.Verdict || len(m.MergedFrom) != len(files) {
			t.Errorf("%d slices: merged verdict %q from %v, whole %q", len(files), m.Verdict, m.MergedFrom, w.Verdict)
		}
		if len(files) == 1 {
			m.Cost, w.Cost, m.MergedFrom = nil, nil, nil
			a, _ := json.Marshal(m)
			b, _ := json.Marshal(w)
			if !bytes.Equal(a, b) {
				t.Errorf("one slice merged differs from the whole check:\n%s\n%s", a, b)
			}
		}
		if len(files) == 5 {
			code, _, stderr := run(append([]string{"check", "--merge"}, files[0], files[1], files[3], files[4])...)
			if code != exitFailure || !strings.Contains(stderr, "blocks 2:3 are missing") {
				t.Errorf("merge without 2:3: exit %d, %q", code, stderr)
			}
		}
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"check", src, dst, "--blocks", "3:9"}, exitUsage, "want 0 ≤ A < B ≤ 5"},
		{[]string{"check", src, dst, "--blocks", "3"}, exitUsage, "want A:B"},
		{[]string{"check", "--merge"}, exitUsage, "--merge needs the slices' reports"},
		{[]string{"check", src, dst, "--report", filepath.Join(dir, "no", "such", "dir", "r.json")}, exitFailure, "--report:"},
		{[]string{"check", "--merge", filepath.Join(dir, "nothing.json")}, exitFailure, "no such file"},
		{[]string{"check", src, dst, "--blocks", "1:2", "--plan-slices", "2"}, exitUsage, "none of the others can be"},
	} {
		code, _, stderr := run(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("grow %s: exit %d, %q; want exit %d and %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.want)
		}
	}
}
