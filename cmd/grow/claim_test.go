package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/probe"
)

// rewriteModel rewrites dir/model.safetensors: edit, when not nil, changes
// the float32 values of a tensor by name (it returns false to keep the tensor
// as it is), meta the metadata (nil: removed but for "format").
func rewriteModel(t *testing.T, dir string, edit func(name string, v []float32) bool, meta func(map[string]string)) {
	t.Helper()
	path := filepath.Join(dir, "model.safetensors")
	f, err := checkpoint.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var es []checkpoint.Entry
	for _, x := range f.Tensors {
		if edit == nil || !x.DType.IsFloat() {
			es = append(es, checkpoint.CopyEntry(x))
			continue
		}
		v, err := x.Float32()
		if err != nil {
			t.Fatal(err)
		}
		if !edit(x.Name, v) {
			es = append(es, checkpoint.CopyEntry(x))
			continue
		}
		es = append(es, checkpoint.Float32Entry(x.Name, x.DType, x.Shape, func() ([]float32, error) { return v, nil }))
	}
	md := map[string]string{}
	for k, v := range f.Metadata {
		md[k] = v
	}
	if meta != nil {
		meta(md)
	}
	delete(md, "format") // WriteSafetensors writes it
	var buf bytes.Buffer
	err = checkpoint.WriteSafetensors(&buf, es, md)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// editConfig rewrites dir/config.json through edit.
func editConfig(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if b, err = json.MarshalIndent(m, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// grownStories returns a HyperCloning ×2 of stories260k in a temporary
// directory.
func grownStories(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "x2")
	var stderr bytes.Buffer
	if code := runWith([]string{"expand", testModel("stories260k"), "-o", dir, "--method", "hypercloning",
		"--width-factor", "2", "--quiet"}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Fatalf("expand: exit %d: %s", code, stderr.String())
	}
	return dir
}

// checkRun runs grow check with args and returns its exit status, stdout and stderr.
func checkRun(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := runWith(append([]string{"check"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestCheckHonestVerdicts: grow check never prints PASS for what it could not
// verify, and fails what is not what it claims to be (issue 8).
func TestCheckHonestVerdicts(t *testing.T) {
	src := testModel("stories260k")
	grown := grownStories(t)
	stripMeta := func(m map[string]string) { delete(m, claim.MetadataKey) }
	stripConfig := func(m map[string]any) { delete(m, claim.ConfigKey) }

	// Unrelated models, both ways round.
	code, out, stderr := checkRun(src, testModel("gpt2-random-realtok"))
	if code != exitFailure || !strings.Contains(out, "FAIL: the models are unrelated") || strings.Contains(out, "PASS") {
		t.Errorf("stories260k vs gpt2-random-realtok: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = checkRun(testModel("gpt2-random-realtok"), testModel("bert-random-realtok"))
	if code != exitFailure || !strings.Contains(out, "do not correspond under any tile or pad map") {
		t.Errorf("gpt2-random-realtok vs bert-random-realtok: exit %d\n%s%s", code, out, stderr)
	}
	// Same width, no claim, embeddings replaced by others: unrelated, and not EXACT.
	shuffled := copyModel(t, "stories260k", modelEdit{})
	rewriteModel(t, shuffled, func(name string, v []float32) bool {
		if name != "model.embed_tokens.weight" {
			return false
		}
		for i := range v {
			v[i] = v[(i*7919+13)%len(v)] * -1
		}
		return true
	}, nil)
	code, out, _ = checkRun(src, shuffled)
	if code != exitFailure || !strings.Contains(out, "the models are unrelated: their embeddings do not correspond under the claimed map tile 64→64") {
		t.Errorf("shuffled embeddings: exit %d\n%s", code, out)
	}

	// A grown model stripped of its claim, with its final norm zeroed: the
	// widths differ, so there is nothing to verify (exit 3), never a PASS.
	stripped := copyDir(t, grown)
	rewriteModel(t, stripped, func(name string, v []float32) bool {
		if name != "model.norm.weight" {
			return false
		}
		clear(v)
		return true
	}, stripMeta)
	editConfig(t, stripped, stripConfig)
	code, out, stderr = checkRun(src, stripped)
	if code != exitUnverified || strings.Contains(out, "PASS") || !strings.Contains(out, "verdict (no claim): NOTHING TO VERIFY") ||
		!strings.Contains(stderr, "grow check: nothing to verify: no claim recorded") {
		t.Errorf("stripped and zeroed: exit %d\n%s%s", code, out, stderr)
	}
	// The user states the claim: it fails.
	code, out, _ = checkRun(src, stripped, "--expect", "EXACT", "--hidden-map", "tile")
	if code != exitFailure || !strings.Contains(out, "verdict (EXACT): FAIL: max-abs logits difference") ||
		!strings.Contains(out, "read from the command line (--expect EXACT --hidden-map tile)") {
		t.Errorf("stripped and zeroed, --expect EXACT --hidden-map tile: exit %d\n%s", code, out)
	}
	// Stripped but intact: the stated claim holds.
	intact := copyDir(t, grown)
	rewriteModel(t, intact, nil, stripMeta)
	editConfig(t, intact, stripConfig)
	if code, out, _ = checkRun(src, intact, "--expect", "exact", "--hidden-map", "tile"); code != exitOK ||
		!strings.Contains(out, "verdict (EXACT): PASS") {
		t.Errorf("stripped, --expect exact --hidden-map tile: exit %d\n%s", code, out)
	}
	if code, out, _ = checkRun(src, intact, "--expect", "EXACT", "--hidden-map", "pad"); code != exitFailure ||
		!strings.Contains(out, "FAIL: hidden state 0 (source 0) deviates by") {
		t.Errorf("stripped, --hidden-map pad: exit %d\n%s", code, out)
	}

	// The class downgraded to APPROX in both copies: reported, not passed;
	// --expect EXACT fails it; a --tol above the difference is a verified bound.
	approx := copyDir(t, grown)
	var m probe.Mapping
	rewriteModel(t, approx, nil, func(md map[string]string) {
		if err := json.Unmarshal([]byte(md[claim.MetadataKey]), &m); err != nil {
			t.Fatal(err)
		}
		m.Class = probe.Approx
		b, _ := json.Marshal(m)
		md[claim.MetadataKey] = string(b)
	})
	editConfig(t, approx, func(c map[string]any) { c[claim.ConfigKey].(map[string]any)["class"] = probe.Approx })
	code, out, stderr = checkRun(src, approx)
	if code != exitUnverified || strings.Contains(out, "PASS") || !strings.Contains(out, "verdict (APPROX): NOTHING TO VERIFY: APPROX promises nothing") {
		t.Errorf("APPROX: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, _ = checkRun(src, approx, "--json"); code != exitUnverified || !strings.Contains(out, `"outcome": "NOTHING TO VERIFY"`) ||
		!strings.Contains(out, `"verified": false`) {
		t.Errorf("APPROX --json: exit %d\n%s", code, out)
	}
	if code, out, _ = checkRun(src, approx, "--expect", "EXACT"); code != exitFailure ||
		!strings.Contains(out, "FAIL: the claim is APPROX, weaker than the EXACT expected") {
		t.Errorf("APPROX --expect EXACT: exit %d\n%s", code, out)
	}
	if code, out, _ = checkRun(src, approx, "--tol", "1e-6"); code != exitOK || !strings.Contains(out, "PASS (max |Δlogits|") {
		t.Errorf("APPROX --tol 1e-6: exit %d\n%s", code, out)
	}
	if code, _, stderr = checkRun(src, approx, "--expect", "EXACT", "--hidden-map", "pad"); code != exitFailure ||
		!strings.Contains(stderr, "--hidden-map pad (pad 64→128) contradicts the hidden map tile 64→128 recorded in") {
		t.Errorf("APPROX --hidden-map pad: exit %d\n%s", code, stderr)
	}

	// Only the config copy left (as after save_pretrained): still judged,
	// and the output says where the claim was read.
	cfgOnly := copyDir(t, grown)
	rewriteModel(t, cfgOnly, nil, stripMeta)
	if code, out, _ = checkRun(src, cfgOnly); code != exitOK || !strings.Contains(out, "verdict (EXACT): PASS") ||
		!strings.Contains(out, `read from config.json ("grow_mapping") (the safetensors metadata holds none`) {
		t.Errorf("config copy only: exit %d\n%s", code, out)
	}
	// The two copies disagree: an error naming both.
	split := copyDir(t, grown)
	editConfig(t, split, func(c map[string]any) { c[claim.ConfigKey].(map[string]any)["class"] = probe.BitExact })
	code, _, stderr = checkRun(src, split)
	if code != exitFailure || !strings.Contains(stderr, "model.safetensors") || !strings.Contains(stderr, `config.json under "grow_mapping"`) ||
		!strings.Contains(stderr, "disagree") {
		t.Errorf("disagreeing copies: exit %d\n%s", code, stderr)
	}
	// An intact grown model: PASS, read from both.
	if code, out, _ = checkRun(src, grown, "--expect", "EXACT"); code != exitOK || !strings.Contains(out, "verdict (EXACT): PASS") ||
		!strings.Contains(out, "which agree") {
		t.Errorf("grown: exit %d\n%s", code, out)
	}
}

// TestClaimInConfig: convert and expand write the mapping into config.json
// too; a conversion of a model whose claim survives only there carries it on.
func TestClaimInConfig(t *testing.T) {
	grown := grownStories(t)
	readCfg := func(dir string) map[string]any {
		b, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	g, ok := readCfg(grown)[claim.ConfigKey].(map[string]any)
	if !ok || g["operator"] != "hypercloning" || g["class"] != probe.Exact {
		t.Fatalf("expand wrote %s = %v", claim.ConfigKey, readCfg(grown)[claim.ConfigKey])
	}
	cfgOnly := copyDir(t, grown)
	rewriteModel(t, cfgOnly, nil, func(m map[string]string) { delete(m, claim.MetadataKey) })
	out := filepath.Join(t.TempDir(), "bf16")
	if _, _, err := growExec(t, "convert", cfgOnly, "-o", out, "--dtype", "bf16", "--quiet"); err != nil {
		t.Fatal(err)
	}
	m := readMapping(t, out)
	if m.Operator != "hypercloning" || m.Storage != "BF16" {
		t.Errorf("converted mapping %+v", m)
	}
	if c := readCfg(out)[claim.ConfigKey].(map[string]any); c["storage"] != "BF16" {
		t.Errorf("converted config copy %v", c)
	}
	if code, o, e := checkRun(testModel("stories260k"), out); code != exitOK {
		t.Errorf("check of the conversion: exit %d\n%s%s", code, o, e)
	}
	// A plain convert of a model without a claim records its own, and a
	// source's stale config copy is not carried over when the metadata has none
	// to keep (the source's own mapping is then read from the config).
	plain := filepath.Join(t.TempDir(), "plain")
	if _, _, err := growExec(t, "convert", testModel("stories260k"), "-o", plain, "--quiet"); err != nil {
		t.Fatal(err)
	}
	if c := readCfg(plain)[claim.ConfigKey].(map[string]any); c["class"] != probe.BitExact || c["operator"] != "convert" {
		t.Errorf("plain convert config copy %v", c)
	}
}
