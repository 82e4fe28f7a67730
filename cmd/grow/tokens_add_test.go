package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/probe"
	"github.com/grow-ml/grow/tokens"
)

// embedRows reads the embedding of a stories260k-like model.
func embedRows(t *testing.T, dir string) ([]float32, int) {
	t.Helper()
	c, err := checkpoint.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tn, ok := c.Tensor("model.embed_tokens.weight")
	if !ok {
		t.Fatal("no embedding")
	}
	v, err := tn.Float32()
	if err != nil {
		t.Fatal(err)
	}
	return v, tn.Shape[0]
}

// grow tokens add on stories260k: every method keeps the old rows bit for
// bit (grow check passes EXACT), the tokenizer uses the new tokens, the
// config says the new row count, and fvt's rows are the means of the
// pieces' rows.
func TestTokensAddMethods(t *testing.T) {
	src := testModel("stories260k")
	old, oldRows := embedRows(t, src)
	const D = 64
	for _, m := range []string{"fvt", "mean", "zero", "random", "mvn", "fvt:last", "copy:▁Tim", "mean-of:▁Tim,▁Lily", "from-text:a walk"} {
		out := filepath.Join(t.TempDir(), "ext")
		_, stderr, err := growExec(t, "tokens", "add", src, "-o", out, "--token", "went", "--token", " Sara",
			"--init-input", m, "--pad-to-multiple-of", "64", "--quiet")
		if err != nil {
			t.Fatalf("%s: %v\n%s", m, err, stderr)
		}
		v, rows := embedRows(t, out)
		if rows != 576 || !slices.Equal(v[:oldRows*D], old) {
			t.Fatalf("%s: %d rows; old rows kept: %v", m, rows, slices.Equal(v[:oldRows*D], old))
		}
		c, err := checkpoint.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		if c.Config.Vocab != 576 {
			t.Errorf("%s: config vocab_size %d", m, c.Config.Vocab)
		}
		c.Close()
		e, err := tokens.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.IDs("Tim went to see Sara", true); !slices.Equal(got, []int{1, 326, 512, 267, 262, 411, 411, 514}) {
			t.Errorf("%s: the extended tokenizer gives %v", m, got)
		}
		row := func(id int) []float32 { return v[id*D : (id+1)*D] }
		switch m {
		case "fvt":
			// ▁went = mean(▁w, ent)
			w, ent := old[263*D:264*D], old[377*D:378*D]
			for j := range D {
				if want := float32((float64(w[j]) + float64(ent[j])) / 2); row(512)[j] != want {
					t.Fatalf("fvt row of ▁went [%d] = %g, want %g", j, row(512)[j], want)
				}
			}
		case "zero":
			if slices.ContainsFunc(row(512), func(x float32) bool { return x != 0 }) {
				t.Error("zero: a row is not zero")
			}
		case "copy:▁Tim":
			if !slices.Equal(row(512), old[326*D:327*D]) {
				t.Error("copy:▁Tim is not ▁Tim's row")
			}
		case "random", "mvn":
			if slices.Equal(row(512), row(514)) {
				t.Errorf("%s: two tokens got the same row", m)
			}
		}
		text, _, err := growExec(t, "check", src, out)
		if err != nil || !strings.Contains(text, "verdict (EXACT): PASS") {
			t.Errorf("%s: grow check: %v\n%s", m, err, text)
		}
		if m == "fvt" || m == "mean" || m == "copy:▁Tim" {
			greedyUnchanged(t, m, out)
		}
	}
}

// greedyUnchanged: with output rows that are the mean or a convex
// combination of old rows, no new token's logit exceeds the largest old
// one, so greedy continuation of old ids is run.c's (reference/stories260k-logits.json).
func greedyUnchanged(t *testing.T, m, dir string) {
	t.Helper()
	b, err := os.ReadFile(testModel(filepath.Join("reference", "stories260k-logits.json")))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Prompts []struct {
			IDs    []int `json:"ids"`
			Greedy []int `json:"greedy_continuation"`
		} `json:"prompts"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	ck, g, err := openGraph(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	model, err := probe.New(g, probe.F32)
	if err != nil {
		t.Fatal(err)
	}
	model.SkipHidden = true
	for _, p := range ref.Prompts[:2] {
		got, err := model.Greedy(p.IDs, 24)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, p.Greedy[:24]) {
			t.Errorf("%s: greedy continuation %v, run.c's %v", m, got, p.Greedy[:24])
		}
	}
}

// A recipe with special tokens and roles; errors write nothing.
func TestTokensAddRecipe(t *testing.T) {
	src := testModel("stories260k")
	dir := t.TempDir()
	recipe := filepath.Join(dir, "r.yaml")
	write := func(s string) {
		if err := os.WriteFile(recipe, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`seed: 7
defaults:
  init: {input: fvt, output: mean}
tokens:
  - text: went
  - text: "<|im_end|>"
    special: true
    role: eos_extra
    init: "copy:</s>"
  - text: "<pad>"
    special: true
    role: pad_token
    init: zero
`)
	out := filepath.Join(dir, "out")
	if _, stderr, err := growExec(t, "tokens", "add", src, "-o", out, "--recipe", recipe, "--quiet"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var gen map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "generation_config.json"))
	if err := json.Unmarshal(b, &gen); err != nil {
		t.Fatal(err)
	}
	if ids, ok := gen["eos_token_id"].([]any); !ok || len(ids) != 2 || ids[1] != float64(513) || gen["pad_token_id"] != float64(514) {
		t.Errorf("generation_config.json: %s", b)
	}
	var tc map[string]any
	b, _ = os.ReadFile(filepath.Join(out, "tokenizer_config.json"))
	if err := json.Unmarshal(b, &tc); err != nil {
		t.Fatal(err)
	}
	dec, _ := tc["added_tokens_decoder"].(map[string]any)
	if e, _ := dec["513"].(map[string]any); e == nil || e["content"] != "<|im_end|>" || e["special"] != true || tc["pad_token"] != "<pad>" {
		t.Errorf("tokenizer_config.json: %s", b)
	}
	c, err := checkpoint.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Config.Get("pad_token_id"); v != float64(514) && v != 514 {
		t.Errorf("config pad_token_id %v", v)
	}
	c.Close()
	v, _ := embedRows(t, out)
	old, _ := embedRows(t, src)
	if !slices.Equal(v[513*64:514*64], old[2*64:3*64]) {
		t.Error("<|im_end|> is not a copy of </s>")
	}
	var ch struct {
		Seed   int64
		Tokens []struct {
			ID    int
			Token string
			Input struct {
				Method       string
				Constituents []struct {
					ID     int
					Weight float64
				}
			}
		}
	}
	b, _ = os.ReadFile(filepath.Join(out, tokens.ChangesFile))
	if err := json.Unmarshal(b, &ch); err != nil || ch.Seed != 7 || len(ch.Tokens) != 3 || ch.Tokens[0].Input.Method != "fvt" ||
		len(ch.Tokens[0].Input.Constituents) != 2 || math.Abs(ch.Tokens[0].Input.Constituents[0].Weight-0.5) > 0 {
		t.Errorf("embedding_changes.json (%v): %s", err, b)
	}

	for _, tc := range []struct{ recipe, msg string }{
		{"tokens:\n  - text: Tim\n", "already in the tokenizer"},
		{"tokens:\n  - text: \"\"\n", "empty"},
		{"tokens:\n  - text: went\n  - text: went\n", "duplicate"},
		{"tokens:\n  - text: went\n    init: frobnicate\n", "unknown method"},
		{"tokens:\n  - text: went\n    role: boss_token\n    special: true\n", "unknown role"},
		{"tokens:\n  - text: went\n    colour: red\n", "colour"},
		{"tokens:\n  - text: went\n    init: \"copy:nonexistent word here\"\n", "not a token"},
	} {
		write(tc.recipe)
		out := filepath.Join(dir, "bad")
		_, _, err := growExec(t, "tokens", "add", src, "-o", out, "--recipe", recipe, "--quiet")
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: %v, want %q", tc.recipe, err, tc.msg)
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Errorf("%q: wrote %s", tc.recipe, out)
		}
	}
}

// --untie writes the tied head of stories260k as its own matrix: the input
// rows by --init-input, the output rows by --init-output.
func TestTokensAddUntie(t *testing.T) {
	src := testModel("stories260k")
	out := filepath.Join(t.TempDir(), "ext")
	if _, stderr, err := growExec(t, "tokens", "add", src, "-o", out, "--token", "went", "--untie",
		"--init-input", "copy:▁Tim", "--init-output", "zero", "--quiet"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	c, err := checkpoint.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	head, ok := c.Tensor("lm_head.weight")
	if !ok || c.Config.Tied {
		t.Fatal("no untied head")
	}
	h, err := head.Float32()
	if err != nil {
		t.Fatal(err)
	}
	e, _ := embedRows(t, out)
	old, _ := embedRows(t, src)
	if !slices.Equal(h[:512*64], old) || !slices.Equal(e[512*64:], old[326*64:327*64]) ||
		slices.ContainsFunc(h[512*64:], func(x float32) bool { return x != 0 }) {
		t.Error("untied rows are not as asked")
	}
	if text, _, err := growExec(t, "check", src, out); err != nil || !strings.Contains(text, "verdict (EXACT): PASS") {
		t.Errorf("grow check: %v\n%s", err, text)
	}
	if _, _, err := growExec(t, "tokens", "add", out, "-o", filepath.Join(t.TempDir(), "x"), "--token", "Sara", "--untie"); exitCode(err) != exitUsage {
		t.Errorf("--untie of an untied model: %v", err)
	}
}

// TestTokensAddChecks: grow tokens add checks its output as grow expand
// does (the old tokens' logits EXACT), and --no-check skips it.
func TestTokensAddChecks(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"tokens", "add", testModel("stories260k"), "-o", out, "--token", " dragon", "--quiet"}, true},
		{[]string{"tokens", "add", testModel("stories260k"), "-o", out, "--token", " dragon", "--quiet", "--no-check", "--force"}, false},
	} {
		var stdout, stderr bytes.Buffer
		if code := runWith(tc.args, &stdout, &stderr); code != 0 {
			t.Fatalf("grow %s: exit %d: %s", strings.Join(tc.args, " "), code, stderr.String())
		}
		if got := strings.Contains(stdout.String(), "check (f64, max |Δlogits| 0, relative 0): EXACT: PASS"); got != tc.want {
			t.Errorf("grow %s: checked %v, want %v:\n%s", strings.Join(tc.args, " "), got, tc.want, stdout.String())
		}
	}
}
