package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/probe"
)

const expandStories = "../../testdata/stories260k"

func TestExpandHyperCloningCLI(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name     string
		args     []string
		head     bool // lm_head.weight written
		verdicts []string
	}{
		{"default untie", []string{"--method", "hypercloning", "--width-factor", "2", "--ffn-factor", "3"}, true,
			[]string{"verdict (EXACT): PASS", "precision f64", "rounded to F32 on storage", "not exact in F32"}},
		{"keep-tied f64", []string{"--method", "hypercloning", "--width-factor", "3", "--keep-tied", "--dtype", "f64"}, false,
			[]string{"verdict (EXACT): PASS", "precision f64"}},
		{"bf16 n2 against the rounded source", []string{"--method", "hypercloning", "--width-factor", "2", "--dtype", "bf16"}, true,
			[]string{"rounded to BF16", "precision f64", "verdict (EXACT): PASS"}},
		{"lemon", []string{"--method", "lemon", "--hidden", "100", "--heads", "10", "--kv-heads", "5", "--ffn", "268", "--dtype", "f64"}, false, // q = 1: the tie stays exact
			[]string{"verdict (EXACT): PASS"}},
		{"zeropad quiet", []string{"--method", "zeropad", "--hidden", "96", "--pad-std", "0.01", "--quiet"}, false,
			[]string{"EXACT: PASS", "check (f64, max |Δlogits|"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
			text, _, err := growExec(t, append([]string{"expand", expandStories, "-o", out}, c.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			for _, v := range c.verdicts {
				if !strings.Contains(text, v) {
					t.Errorf("output lacks %q:\n%s", v, text)
				}
			}
			ck, err := checkpoint.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer ck.Close()
			if _, ok := ck.Tensor("lm_head.weight"); ok != c.head {
				t.Errorf("lm_head.weight written: %v, want %v", ok, c.head)
			}
			if ck.Config.Tied == c.head {
				t.Errorf("config tie_word_embeddings %v with head written %v", ck.Config.Tied, c.head)
			}
			md := ck.Files[0].Metadata
			for _, k := range []string{"grow.version", "grow.operator", "grow.params", "grow.source_sha256", probe.MetadataKey} {
				if md[k] == "" {
					t.Errorf("metadata %q missing", k)
				}
			}
			var params map[string]any
			if err := json.Unmarshal([]byte(md["grow.params"]), &params); err != nil {
				t.Errorf("grow.params: %v", err)
			}
			if _, ok := ck.Tensor("model.embed_tokens.weight"); !ok {
				t.Error("no embedding written")
			}
			if _, err := os.Stat(filepath.Join(out, "tokenizer.json")); err != nil {
				t.Errorf("side file not carried over: %v", err)
			}
		})
	}
}

func TestExpandDryRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "never")
	text, _, err := growExec(t, "expand", expandStories, "-o", out, "--method", "hypercloning", "--width-factor", "2", "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"target     hidden 128", "heads 16, kv heads 8, head_dim 8, ffn 344", "layers.*.attn.q.weight", "output     "} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "verdict") {
		t.Errorf("--dry-run ran the check:\n%s", text)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--dry-run wrote %s (%v)", out, err)
	}
}

func TestExpandRefusals(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"head_dim on RoPE", []string{"-o", dir + "/a", "--method", "lemon", "--hidden", "128", "--head-dim", "16"}, "RoPE"},
		{"smaller hidden", []string{"-o", dir + "/b", "--method", "lemon", "--hidden", "32"}, "smaller"},
		{"heads do not divide", []string{"-o", dir + "/c", "--method", "lemon", "--hidden", "96", "--heads", "12", "--kv-heads", "5"}, "divide"},
		{"no output", []string{"--method", "hypercloning", "--width-factor", "2"}, "-o OUT"},
		{"unknown method", []string{"-o", dir + "/d", "--method", "net2net"}, "unknown method"},
		{"factor 0", []string{"-o", dir + "/e", "--method", "hypercloning"}, "≥ 1"},
		{"existing output", []string{"-o", existing, "--method", "hypercloning", "--width-factor", "2"}, "exist"},
		{"bad dtype", []string{"-o", dir + "/f", "--method", "hypercloning", "--width-factor", "2", "--dtype", "i8"}, "float dtype"},
		{"probes 0", []string{"-o", dir + "/g", "--method", "hypercloning", "--width-factor", "2", "--probes", "0"}, "--probes"},
		{"seq-len negative", []string{"-o", dir + "/h", "--method", "hypercloning", "--width-factor", "2", "--seq-len", "-4"}, "--seq-len"},
	} {
		t.Run(c.name, func(t *testing.T) {
			text, _, err := growExec(t, append([]string{"expand", expandStories}, c.args...)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q\n%s", err, c.want, text)
			}
			if errors.Is(err, errCheckFailed) {
				t.Errorf("a refusal reported as a failed check")
			}
		})
	}
	// --force replaces the existing directory
	if text, _, err := growExec(t, "expand", expandStories, "-o", existing, "--force", "--quiet", "--method", "hypercloning", "--width-factor", "2"); err != nil {
		t.Fatalf("--force: %v\n%s", err, text)
	}
}

// Noise stored in BF16 does not cancel: grow says so before writing, and the
// check, run on the output before it is moved into place, fails with
// errCheckFailed (exit status 1) and leaves nothing at -o; --keep-failed keeps
// the output as OUT.failed-check; a previous output at -o stays as it was.
func TestExpandCheckFailure(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "noisy")
	noisy := []string{"--quiet", "--method", "hypercloning", "--width-factor", "2", "--noise-snr-db", "10", "--dtype", "bf16"}
	text, _, err := growExec(t, append([]string{"expand", expandStories, "-o", out}, noisy...)...)
	if !errors.Is(err, errCheckFailed) {
		t.Fatalf("error %v, want errCheckFailed\n%s", err, text)
	}
	if !strings.Contains(text, "not exact in BF16") || !strings.Contains(text, "FAIL") || !strings.Contains(text, "nothing was written to "+out) {
		t.Errorf("output does not say why, or what was left:\n%s", text)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("a failed check left %v", left)
	}

	text, _, err = growExec(t, append([]string{"expand", expandStories, "-o", out, "--keep-failed"}, noisy...)...)
	if !errors.Is(err, errCheckFailed) || !strings.Contains(text, out+".failed-check") {
		t.Fatalf("--keep-failed: error %v\n%s", err, text)
	}
	if left := dirNames(t, dir); !slices.Equal(left, []string{"noisy.failed-check"}) {
		t.Errorf("--keep-failed left %v, want [noisy.failed-check]", left)
	}

	if _, _, err := growExec(t, "expand", expandStories, "-o", out, "--quiet", "--method", "hypercloning", "--width-factor", "2"); err != nil {
		t.Fatal(err)
	}
	before := tensorHashes(t, out)
	_, _, err = growExec(t, append([]string{"expand", expandStories, "-o", out, "--force"}, noisy...)...)
	if !errors.Is(err, errCheckFailed) {
		t.Fatalf("--force: error %v, want errCheckFailed", err)
	}
	sameHashes(t, before, tensorHashes(t, out))
}

// TestExpandNoCheckAndForce: --no-check says in the output's metadata that it
// was not checked; --force onto an earlier output says how it replaced it.
func TestExpandNoCheckAndForce(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x2")
	args := []string{"expand", expandStories, "-o", out, "--method", "hypercloning", "--width-factor", "2", "--no-check"}
	if _, _, err := growExec(t, args...); err != nil {
		t.Fatal(err)
	}
	if got := shardMetadata(t, out)["model.safetensors"]["grow.check"]; got != "not run (--no-check)" {
		t.Errorf("grow.check metadata %q, want \"not run (--no-check)\"", got)
	}
	raw, err := os.ReadFile(filepath.Join(out, "config.json"))
	if err != nil || !strings.Contains(string(raw), `"grow_check": "not run (--no-check)"`) {
		t.Errorf("config.json does not say the output was not checked (%v):\n%s", err, raw)
	}
	_, stderr, err := growExec(t, append(args, "--force")...)
	if err != nil || !strings.Contains(stderr, "note: the existing "+out+" was ") {
		t.Errorf("--force: %v, stderr %q", err, stderr)
	}
}

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestExpandThenCheckRounded: LEMON's √s gains and random splits are rounded when
// stored as F32; the mapping says so, and a later plain grow check (float64) judges
// the EXACT claim with the float32 rule and passes.
func TestExpandThenCheckRounded(t *testing.T) {
	src := testModel("stories260k")
	out := filepath.Join(t.TempDir(), "lemon96")
	if _, _, err := growExec(t, "expand", src, "-o", out, "--method", "lemon", "--hidden", "96", "--no-check", "--quiet"); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := growExec(t, "check", src, out, "--json")
	if err != nil {
		t.Fatalf("grow check: %v\n%s%s", err, stdout, stderr)
	}
	rep := checkReport(t, stdout)
	if !rep.Pass || rep.Class != "EXACT" || rep.MaxAbs == 0 {
		t.Errorf("check of the F32 LEMON output: class %s, pass %v, max abs %g", rep.Class, rep.Pass, rep.MaxAbs)
	}
}

// TestExpandNonFiniteSource: a NaN in the source is refused before anything
// is written, with --no-check too (nothing else would see it then).
func TestExpandNonFiniteSource(t *testing.T) {
	src := copyModel(t, "stories260k", modelEdit{tensor: "model.layers.1.mlp.up_proj.weight", delta: float32(math.NaN())})
	for _, extra := range [][]string{nil, {"--no-check"}} {
		out := filepath.Join(t.TempDir(), "out")
		args := append([]string{"expand", src, "-o", out, "--method", "hypercloning", "--width-factor", "2", "--quiet"}, extra...)
		var stderr bytes.Buffer
		code := runWith(args, io.Discard, &stderr)
		if code != exitFailure || !strings.Contains(stderr.String(), "NaN") {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 naming the NaN", extra, code, stderr.String())
		}
		if left, _ := os.ReadDir(filepath.Dir(out)); len(left) != 0 {
			t.Errorf("%v: left %v", extra, left)
		}
	}
}

// TestRefuseMaskedSource: expand, shrink and learngene extract refuse a
// source that holds MSG's masked growth, with the same message, and write
// nothing.
func TestRefuseMaskedSource(t *testing.T) {
	dir := t.TempDir()
	masked := filepath.Join(dir, "msg")
	if code := runWith([]string{"expand", testModel("stories260k"), "-o", masked, "--method", "msg", "--hidden", "96", "--quiet"},
		io.Discard, io.Discard); code != 0 {
		t.Fatalf("msg: exit %d", code)
	}
	out := filepath.Join(dir, "out")
	for _, args := range [][]string{
		{"expand", masked, "-o", out, "--method", "hypercloning", "--width-factor", "2"},
		{"shrink", masked, "-o", out, "--hidden", "32"},
		{"learngene", "extract", masked, "-o", out},
	} {
		var stderr bytes.Buffer
		code := runWith(args, io.Discard, &stderr)
		if code != exitFailure || !strings.Contains(stderr.String(), "holds masked growth (grow_state.json, mask value 0): raise the masks") {
			t.Errorf("grow %s: exit %d, %q", strings.Join(args, " "), code, stderr.String())
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("grow %s wrote %s", strings.Join(args, " "), out)
		}
	}
}
