package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	selection "github.com/grow-ml/grow/select"
)

// openShrunk opens a grow shrink output and verifies it against the teacher
// graph: every tensor the teacher's (rounded to dt when given) at the index
// sets its metadata records.
func openShrunk(t *testing.T, out string, teacher *graph.Graph, dt checkpoint.DType) (*checkpoint.Checkpoint, *graph.Graph, *selection.Sets) {
	t.Helper()
	ck, err := checkpoint.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ck.Close() })
	g, err := graph.FromCheckpoint(ck)
	if err != nil {
		t.Fatal(err)
	}
	sets, err := selection.Recorded(ck)
	if err != nil {
		t.Fatal(err)
	}
	if dt != "" {
		teacher = graph.Round(teacher, dt)
	}
	if err := selection.Verify(teacher, g, sets); err != nil {
		t.Error(err)
	}
	return ck, g, sets
}

func TestShrinkCLI(t *testing.T) {
	dir := t.TempDir()
	tck, teacher, err := openGraph(expandStories)
	if err != nil {
		t.Fatal(err)
	}
	defer tck.Close()
	student := filepath.Join(dir, "student.json")
	if err := os.WriteFile(student, []byte(`{"model_type": "llama", "hidden_size": 32, "num_attention_heads": 4,
		"num_key_value_heads": 2, "intermediate_size": 86, "num_hidden_layers": 3, "vocab_size": 512}`), 0o644); err != nil {
		t.Fatal(err)
	}
	issue := []string{"--hidden", "32", "--heads", "4", "--kv-heads", "2", "--ffn", "86", "--layers", "3"}
	for _, c := range []struct {
		name   string
		args   []string
		dt     checkpoint.DType
		layers []int
		text   []string
	}{
		{"uniform layers", append([]string{"--layers-from", "uniform"}, issue...), "", []int{0, 2, 4},
			[]string{"bit for bit", "verdict (NON-PRESERVING): NOTHING TO VERIFY", "blocks    0,2,4 (of 5)", "layers not mapped"}},
		{"student config first layers", []string{"--config", student, "--elements", "first"}, "", []int{0, 1, 2},
			[]string{"hidden    0-31 (32 of 64)"}},
		{"bf16 random", append([]string{"--elements", "random:4", "--dtype", "bf16", "--quiet"}, issue...), checkpoint.BF16, []int{0, 1, 2}, nil},
		{"layer map importance", []string{"--hidden", "48", "--layer-map", "4,1", "--elements", "importance",
			"--calib-ids", "../../select/testdata/stories-calib.ids"}, "", []int{4, 1}, []string{"ffn       block 1:"}},
		{"same size", nil, "", []int{0, 1, 2, 3, 4}, []string{"verdict (BIT-EXACT): PASS"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
			text, stderr, err := growExec(t, append([]string{"shrink", expandStories, "-o", out}, c.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s\n%s", err, text, stderr)
			}
			for _, s := range c.text {
				if !strings.Contains(text, s) {
					t.Errorf("output lacks %q:\n%s", s, text)
				}
			}
			ck, g, sets := openShrunk(t, out, teacher, c.dt)
			if !slices.Equal(sets.Layers, c.layers) || len(g.Layers) != len(c.layers) {
				t.Errorf("blocks %v (%d layers), want %v", sets.Layers, len(g.Layers), c.layers)
			}
			if _, ok := ck.Tensor("lm_head.weight"); ok || !ck.Config.Tied {
				t.Error("the tied head was untied")
			}
			if _, err := os.Stat(filepath.Join(out, "tokenizer.json")); err != nil {
				t.Errorf("side file not carried over: %v", err)
			}
		})
	}
}

func TestShrinkRefusals(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	other := filepath.Join(dir, "gpt2.json")
	if err := os.WriteFile(other, []byte(`{"model_type": "gpt2", "n_embd": 32, "n_head": 4, "n_layer": 2, "vocab_size": 512}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--hidden", "128"}, 2, "--hidden 128 is larger than the teacher's 64"},
		{[]string{"--config", other}, 2, `model_type "gpt2", the teacher's is "llama"`},
		{[]string{"--config", other, "--hidden", "32"}, 2, "give --config or --hidden, not both"},
		{[]string{"--elements", "importance"}, 2, "importance needs calibration text"},
		{[]string{"--heads", "4", "--kv-heads", "1"}, 2, "4 heads over 1 key/value heads is 4 per group"},
		{[]string{"--calib-ids", filepath.Join(dir, "none.ids")}, 2, "no such file"},
		{[]string{"--calib", filepath.Join(dir, "none.txt")}, 2, "no such file"},
		{[]string{"--report", other, "--report-ids", other}, 2, "give --report or --report-ids, not both"},
	} {
		var stderr strings.Builder
		code := runWith(append([]string{"shrink", expandStories, "-o", out}, c.args...), &strings.Builder{}, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, want %d; stderr %q lacks %q", c.args, code, c.code, stderr.String(), c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v: wrote %s", c.args, out)
		}
	}
}

// TestShrinkReport: --report-ids prints the loss of the teacher, of the
// students of every element rule and of random initialisations.
func TestShrinkReport(t *testing.T) {
	eval := filepath.Join(t.TempDir(), "eval.ids")
	b, err := os.ReadFile("../../select/testdata/stories-eval.ids")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(b), "\n", 3)
	if err := os.WriteFile(eval, []byte(lines[0]+"\n"+lines[1]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text, stderr, err := growExec(t, "shrink", expandStories, "--dry-run", "--hidden", "32", "--layers", "3",
		"--report-ids", eval, "--report-inits", "2", "--calib-ids", eval)
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, text, stderr)
	}
	for _, s := range []string{"teacher", "this run (uniform)", "first", "random", "importance", "random init (seed 2)", "calibrated"} {
		if !strings.Contains(text, s) {
			t.Errorf("report lacks %q:\n%s", s, text)
		}
	}
}

// TestShrinkCalibText: --calib TEXT tokenizes the text with the teacher's
// tokenizer, so importance selection on three stories as text keeps the
// index sets it keeps on the same stories as Hugging Face's token ids.
func TestShrinkCalibText(t *testing.T) {
	dir := t.TempDir()
	corpus, err := os.ReadFile("../../testdata/reference/stories-corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := os.ReadFile("../../select/testdata/stories-calib.ids")
	if err != nil {
		t.Fatal(err)
	}
	stories := strings.SplitN(string(corpus), "\n\n", 4)[:3]
	lines := strings.SplitN(string(ids), "\n", 4)[:3]
	text, idsFile := filepath.Join(dir, "calib.txt"), filepath.Join(dir, "calib.ids")
	if err := os.WriteFile(text, []byte(strings.Join(stories, "\n\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(idsFile, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"shrink", expandStories, "--dry-run", "--hidden", "32", "--layers", "3", "--elements", "importance"}
	fromText, stderr, err := growExec(t, append(args, "--calib", text)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	fromIDs, stderr, err := growExec(t, append(args, "--calib-ids", idsFile)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if fromText != fromIDs || !strings.Contains(fromText, "hidden") {
		t.Errorf("--calib text and --calib-ids of the same stories select differently:\n%s\n---\n%s", fromText, fromIDs)
	}
	report, stderr, err := growExec(t, "shrink", expandStories, "--dry-run", "--hidden", "32", "--layers", "3",
		"--report", text, "--report-inits", "1")
	if err != nil || !strings.Contains(report, "calibrated") {
		t.Errorf("--report text: %v\n%s\n%s", err, report, stderr)
	}
}
