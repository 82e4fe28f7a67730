package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grow-ml/grow/probe"
)

func checkReport(t *testing.T, out string) probe.Report {
	t.Helper()
	var r probe.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	return r
}

func TestCheckItselfPasses(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "deviation.png")
	out, _, err := growExec(t, "check", "../../testdata/stories260k", "../../testdata/stories260k", "--json",
		"--probes", "3", "--seq-len", "20", "--plot", plot)
	if err != nil {
		t.Fatal(err)
	}
	r := checkReport(t, out)
	if !r.Pass || r.MaxAbs != 0 || r.MaxKL != 0 || r.Top1 != 1 || r.Positions != 60 || len(r.LayerDev) != 6 {
		t.Errorf("itself: %+v", r)
	}
	b, err := os.ReadFile(plot)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 1000 {
		t.Errorf("--plot wrote %d bytes that are not a PNG", len(b))
	}
	out, _, err = growExec(t, "check", "../../testdata/bert-random-realtok", "../../testdata/bert-random-realtok")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "verdict (EXACT): PASS") {
		t.Errorf("bert itself:\n%s", out)
	}
}

// TestCheckFlagsAChange: one weight changed by 1e-3 fails the check with exit
// status 1 (errCheckFailed), in the text and JSON outputs.
func TestCheckFlagsAChange(t *testing.T) {
	dst := copyModel(t, "stories260k", modelEdit{tensor: "model.layers.2.mlp.down_proj.weight", delta: 1e-3})
	out, _, err := growExec(t, "check", "../../testdata/stories260k", dst)
	if !errors.Is(err, errCheckFailed) || exitCode(err) != 1 {
		t.Fatalf("error %v, want errCheckFailed", err)
	}
	if !strings.Contains(out, "verdict (EXACT): FAIL") || !strings.Contains(out, "block 2") {
		t.Errorf("output:\n%s", out)
	}
	out, _, err = growExec(t, "check", "../../testdata/stories260k", dst, "--json")
	if !errors.Is(err, errCheckFailed) {
		t.Fatalf("json: error %v", err)
	}
	r := checkReport(t, out)
	if r.Pass || r.MaxAbs == 0 || r.LayerDev[2] != 0 || r.LayerDev[3] == 0 {
		t.Errorf("json report: %+v", r)
	}
}

// TestCheckReadsTheMapping: the class comes from the result's metadata; an
// APPROX claim is reported (exit 3, nothing to verify) unless --tol gives a
// bound, which then passes or fails.
func TestCheckReadsTheMapping(t *testing.T) {
	m, _ := json.Marshal(probe.Mapping{Operator: "test", Class: probe.Approx,
		Hidden: probe.HiddenMap{Kind: "tile", Src: 64, Dst: 64}})
	dst := copyModel(t, "stories260k", modelEdit{tensor: "model.norm.weight", delta: 0.5,
		meta: map[string]string{probe.MetadataKey: string(m)}})
	out, _, err := growExec(t, "check", "../../testdata/stories260k", dst, "--json", "--probes", "2")
	if !errors.Is(err, errNothingToVerify) || exitCode(err) != 3 {
		t.Fatalf("APPROX: error %v, want errNothingToVerify", err)
	}
	r := checkReport(t, out)
	if r.Class != probe.Approx || r.Operator != "test" || !r.Pass || r.Verified || r.Outcome != probe.OutcomeUnverified || r.MaxAbs == 0 {
		t.Fatalf("report %+v", r)
	}
	_, _, err = growExec(t, "check", "../../testdata/stories260k", dst, "--probes", "2", "--tol", "1e-6")
	if !errors.Is(err, errCheckFailed) || !strings.Contains(err.Error(), "tolerance") {
		t.Errorf("--tol below the difference: %v", err)
	}
	if _, _, err = growExec(t, "check", "../../testdata/stories260k", dst, "--probes", "2", "--tol", "10"); err != nil {
		t.Errorf("--tol above the difference: %v", err)
	}
}

func TestCheckIDsFile(t *testing.T) {
	dir := t.TempDir()
	lines := filepath.Join(dir, "ids.txt")
	os.WriteFile(lines, []byte("# probes\n1, 403, 407\n\n1 368 302 381\n"), 0o644)
	js := filepath.Join(dir, "ids.json")
	os.WriteFile(js, []byte("[[1,403,407],[1,368,302,381]]"), 0o644)
	for _, f := range []string{lines, js} {
		out, _, err := growExec(t, "check", "../../testdata/stories260k", "../../testdata/stories260k", "--json", "--ids-file", f)
		if err != nil {
			t.Fatal(err)
		}
		r := checkReport(t, out)
		if r.Probes != 2 || r.Positions != 7 || len(r.PositionDev) != 4 {
			t.Errorf("%s: %d probes, %d positions, %d position deviations", f, r.Probes, r.Positions, len(r.PositionDev))
		}
	}
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("1,2\n3,-4\n"), 0o644)
	if _, _, err := growExec(t, "check", "../../testdata/stories260k", "../../testdata/stories260k", "--ids-file", bad); err == nil ||
		!strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad ids file: %v", err)
	}
	if _, _, err := growExec(t, "check", "../../testdata/stories260k", "../../testdata/stories260k", "--seq-len", "600"); err == nil {
		t.Error("a sequence longer than the model's positions was accepted")
	}
}
