package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grow-ml/grow/grow"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"unknown flag", []string{"inspect", "--no-such-flag", testModel("stories260k")}, 2},
		{"bad flag value", []string{"check", "--probes", "many", testModel("stories260k"), testModel("stories260k")}, 2},
		{"missing argument", []string{"inspect"}, 2},
		{"missing model", []string{"inspect", "no/such/model"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := growExec(t, tc.args...)
			if err == nil {
				t.Fatal("no error")
			}
			if got := exitCode(err); got != tc.want {
				t.Errorf("exit status %d for %v, want %d", got, err, tc.want)
			}
		})
	}
	if got := exitCode(fmt.Errorf("wrapped: %w", errInterrupted)); got != 130 {
		t.Errorf("interrupted: exit status %d, want 130", got)
	}
	if got := exitCode(errCheckFailed); got != 1 {
		t.Errorf("check failed: exit status %d, want 1", got)
	}
	if got := exitCode(fmt.Errorf("%w: APPROX promises nothing", errNothingToVerify)); got != 3 {
		t.Errorf("nothing to verify: exit status %d, want 3", got)
	}
}

// TestExitStatus runs grow command lines in-process as main does and checks
// the exit-status contract (README.md) and the first line each prints on
// stderr (or, for a success, on stdout).
func TestExitStatus(t *testing.T) {
	m := testModel("stories260k")
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes")
	if err := os.Mkdir(notes, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(notes, "todo.txt"), []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(dir, "existing")
	if code := runWith([]string{"convert", m, "-o", existing, "--quiet"}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("convert into %s: exit %d", existing, code)
	}
	changed := copyModel(t, "stories260k", modelEdit{tensor: "model.norm.weight", delta: 0.5})
	unclaimed := copyDir(t, grownStories(t))
	rewriteModel(t, unclaimed, nil, func(m map[string]string) { delete(m, "grow.mapping") })
	editConfig(t, unclaimed, func(m map[string]any) { delete(m, "grow_mapping") })
	out := filepath.Join(dir, "out")
	tests := []struct {
		args  []string
		code  int
		first string // in the first line of stderr, or of stdout for status 0
	}{
		{[]string{}, 0, "grow reads Hugging Face checkpoints"},
		{[]string{"help", "expand"}, 0, "expand writes a wider or deeper model"},
		{[]string{"shrink", m}, 2, "grow shrink: no output directory: give -o OUT"},
		{[]string{"tokens"}, 0, "tokens works with a model directory"},
		{[]string{"tokens", "frobnicate"}, 2, `grow tokens: unknown command "frobnicate" for "grow tokens"`},
		{[]string{"--no-such-flag"}, 2, "grow: unknown flag: --no-such-flag"},
		{[]string{"version"}, 0, "grow " + version},
		{[]string{"--version"}, 0, "grow " + version},
		{[]string{"version", "now"}, 2, "grow version: takes no arguments, got 1"},

		{[]string{"inspect"}, 2, "grow inspect: want 1 argument (MODEL), got 0"},
		{[]string{"inspect", m, m}, 2, "grow inspect: want 1 argument (MODEL), got 2"},
		{[]string{"inspect", "--bogus", m}, 2, "grow inspect: unknown flag: --bogus"},
		{[]string{"inspect", "no/such/model"}, 1, "grow inspect: no/such/model: no such model directory or file"},
		{[]string{"inspect", m}, 0, m},

		{[]string{"convert", m}, 2, "grow convert: no output directory: give -o OUT"},
		{[]string{"convert", m, "-o", out, "--dtype", "f8"}, 2, `grow convert: --dtype "f8": want f32, f16, bf16 or f64`},
		{[]string{"convert", m, "-o", out, "--max-shard-size", "0"}, 2, `grow convert: --max-shard-size "0": want a positive size`},
		{[]string{"convert", m, "-o", existing}, 1, "already exists; use --force to replace it"},
		{[]string{"convert", m, "-o", notes, "--force"}, 1, "exists and is not a model directory (it holds todo.txt"},
		{[]string{"convert", m, "-o", m, "--force"}, 1, "is the source model"},
		{[]string{"convert", "no/such/model", "-o", out}, 1, "no/such/model: no such model directory or file"},

		{[]string{"probe", m}, 2, "grow probe: no token ids: give --ids"},
		{[]string{"probe", m, "--ids", "1,x"}, 2, `grow probe: --ids: "x" is not a token id`},
		{[]string{"probe", m, "--ids", "1", "--precision", "f8"}, 2, `grow probe: --precision "f8": want f32 or f64`},
		{[]string{"probe", m, "--ids", "1", "--greedy", "-1"}, 2, "grow probe: --greedy -1: must not be negative"},
		{[]string{"probe", m, "--ids", "1", "--top", "many"}, 2, `grow probe: --top "many": want a whole number`},
		{[]string{"probe", m, "--ids", "1", "--json"}, 0, `{"logits":`},

		{[]string{"check", m}, 2, "grow check: want 2 arguments (SRC DST), got 1"},
		{[]string{"check", m, m, "--probes", "0"}, 2, "grow check: --probes 0 --seq-len 32: both must be positive"},
		{[]string{"check", m, m, "--probes", "x"}, 2, `grow check: --probes "x": want a whole number`},
		{[]string{"check", m, m, "--tol", "-1"}, 2, "grow check: --tol -1: must not be negative"},
		{[]string{"check", m, m, "--tol", "nan"}, 2, "grow check: --tol NaN: want a finite number"},
		{[]string{"check", m, m, "--tol", "inf"}, 2, "grow check: --tol +Inf: want a finite number"},
		{[]string{"check", m, m, "--expect", "CLOSE"}, 2, `grow check: --expect "CLOSE": want BIT-EXACT, EXACT`},
		{[]string{"check", m, m, "--hidden-map", "tile"}, 2, "grow check: --hidden-map tile states a claim: give it with --expect CLASS"},
		{[]string{"check", m, m, "--expect", "exact", "--hidden-map", "spiral"}, 2, `grow check: --hidden-map "spiral": want tile or pad`},
		{[]string{"check", m, testModel("gpt2-random-realtok")}, 1, "grow check: check failed: the models are unrelated"},
		{[]string{"check", m, unclaimed}, 3, "grow check: nothing to verify: no claim recorded and the hidden sizes differ (64 vs 128)"},
		{[]string{"check", m, unclaimed, "--expect", "EXACT"}, 2,
			"grow check: --expect EXACT: no claim is recorded and the hidden sizes differ (64 vs 128): give --hidden-map tile or pad"},
		{[]string{"check", m, unclaimed, "--expect", "EXACT", "--hidden-map", "tile"}, 0, "source   " + m},
		{[]string{"check", m, m, "--precision", "half"}, 2, `grow check: --precision "half": want f32 or f64`},
		{[]string{"check", m, changed}, 1, "grow check: check failed: "},
		{[]string{"check", m, m}, 0, "source   " + m},

		{[]string{"msg", "set-mask", m}, 2, "grow msg set-mask: no mask value: give --value c with 0 ≤ c ≤ 1"},
		{[]string{"msg", "set-mask", m, "--value", "1.5"}, 2, "grow msg set-mask: --value 1.5: want a number in [0, 1]"},
		{[]string{"msg", "set-mask", m, "--value", "0.5"}, 1, "has no grow_state.json: it is not the output of grow expand --method msg"},
		{[]string{"msg", "bake", m}, 2, "grow msg bake: no output directory: give -o OUT"},
		{[]string{"msg", "bake", m, "-o", out}, 1, "has no grow_state.json"},
		{[]string{"expand"}, 2, "grow expand: want 1 argument (SRC), got 0"},
		{[]string{"expand", m, "-o", out}, 2, "grow expand: no method: give --method " + strings.Join(grow.Names(), ", ")},
		{[]string{"expand", m, "--method", "hypercloning", "--width-factor", "2"}, 2, "grow expand: no output directory: give -o OUT"},
		{[]string{"expand", m, "-o", out, "--method", "wider"}, 2, `grow expand: unknown method "wider"`},
		{[]string{"expand", m, "-o", out, "--method", "hypercloning", "--width-factor", "0"}, 2,
			"grow expand: hypercloning: --width-factor 0: want a whole number ≥ 1"},
		{[]string{"expand", m, "-o", out, "--method", "hypercloning", "--width-factor", "1.5"}, 2,
			`grow expand: --width-factor "1.5": want a whole number`},
		{[]string{"expand", m, "-o", out, "--method", "hypercloning", "--width-factor", "2", "--ffn-factor", "-1"}, 2,
			"grow expand: hypercloning: --ffn-factor -1: want a whole number ≥ 1"},
		{[]string{"expand", m, "-o", out, "--method", "hypercloning", "--width-factor", "2", "--pad-std", "1"}, 2,
			"grow expand: --pad-std is a flag of zeropad; --method hypercloning does not take it"},
		{[]string{"expand", m, "-o", out, "--method", "lemon"}, 2, "grow expand: lemon needs --hidden"},
		{[]string{"expand", m, "-o", out, "--method", "lemon", "--hidden", "32"}, 2, "grow expand: lemon: --hidden 32 is smaller than the source's 64"},
		{[]string{"expand", m, "-o", out, "--method", "zeropad", "--hidden", "96", "--split-scale", "0.1"}, 2,
			"grow expand: --split-scale is a flag of lemon; --method zeropad does not take it"},
		{[]string{"expand", m, "-o", out, "--method", "hypercloning", "--width-factor", "2", "--probes", "0"}, 2,
			"grow expand: --probes 0 --seq-len 32: both must be positive (or give --no-check)"},
		{[]string{"tokens", "add", m, "-o", out, "--token", " dragon", "--seq-len", "0"}, 2,
			"grow tokens add: --probes 8 --seq-len 0: both must be positive (or give --no-check)"},
		{[]string{"expand", m, "-o", out, "--method", "hypercloning", "--width-factor", "2", "--dtype", "int8"}, 2,
			`grow expand: --dtype "int8": want`},
		{[]string{"expand", "no/such/model", "-o", out, "--method", "hypercloning", "--width-factor", "2"}, 1,
			"grow expand: no/such/model: no such model directory or file"},
		{[]string{"expand", m, "-o", notes, "--force", "--method", "hypercloning", "--width-factor", "2"}, 1,
			"exists and is not a model directory"},
		{[]string{"expand", m, "--method", "hypercloning", "--width-factor", "2", "--dry-run"}, 0, "operator   hypercloning"},
		{[]string{"expand", m, "-o", out, "--method", "hypercloning", "--width-factor", "2", "--noise-snr-db", "nan"}, 2,
			`grow expand: --noise-snr-db "nan": want a number`},
		{[]string{"expand", m, "-o", out, "--method", "lemon", "--hidden", "96", "--split-scale", "inf"}, 2,
			`grow expand: --split-scale "inf": want a number`},
		{[]string{"expand", m, "-o", out, "--method", "zeropad", "--hidden", "96", "--pad-std", "-Infinity"}, 2,
			`grow expand: --pad-std "-Infinity": want a number`},
		{[]string{"expand", m, "-o", out, "--method", "hypercloning", "--width-factor", "2", "--noise-snr-db", "10", "--dtype", "bf16", "--quiet"}, 1,
			"grow expand: check failed"},
	}
	for _, tc := range tests {
		var stdout, stderr bytes.Buffer
		code := runWith(tc.args, &stdout, &stderr)
		text := stderr.String()
		if tc.code == 0 {
			text = stdout.String()
		}
		first, rest, _ := strings.Cut(text, "\n")
		if strings.HasPrefix(first, "estimate ") { // check's estimate comes before its report
			first, _, _ = strings.Cut(rest, "\n")
		}
		if code != tc.code || !strings.Contains(first, tc.first) {
			t.Errorf("grow %s: exit %d, first line %q; want exit %d and %q\nstderr: %s",
				strings.Join(tc.args, " "), code, first, tc.code, tc.first, stderr.String())
		}
		if code == exitUsage && !strings.Contains(stderr.String(), "\nusage: grow") {
			t.Errorf("grow %s: a usage error without the usage line:\n%s", strings.Join(tc.args, " "), stderr.String())
		}
	}
	if b, err := os.ReadFile(filepath.Join(notes, "todo.txt")); err != nil || string(b) != "keep me\n" {
		t.Errorf("--force changed the notes folder: %q %v", b, err)
	}
	if len(tests) < 30 {
		t.Errorf("%d command lines, want at least 30", len(tests))
	}
}

func TestParseIDs(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		err  bool
	}{
		{"1,403,407", []int{1, 403, 407}, false},
		{"1, 403 ,407", []int{1, 403, 407}, false},
		{"1 403\t407", []int{1, 403, 407}, false},
		{"", nil, false},
		{"7", []int{7}, false},
		{"1,,2", nil, true},
		{"1,2,", nil, true},
		{",1", nil, true},
		{"1,-2", nil, true},
		{"1,x", nil, true},
	}
	for _, tc := range tests {
		got, err := parseIDs(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("parseIDs(%q): error %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("parseIDs(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestAbsurdSizes: sizes far beyond what any machine can hold are refused from
// the plan-time estimate, before anything of their size is allocated, with a
// message that names the limit, exit status 1, and nothing written.
func TestAbsurdSizes(t *testing.T) {
	m := testModel("stories260k")
	out := filepath.Join(t.TempDir(), "out")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"expand", m, "--method", "hypercloning", "--width-factor", "300000000000000000", "--dry-run"},
			"the hidden width 300000000000000000×64 = 1.92e+19 is beyond grow's limit of 1048576"},
		{[]string{"expand", m, "--method", "lemon", "--hidden", "1000000000", "--dry-run"},
			"--hidden 1000000000 is beyond grow's limit of 1048576"},
		{[]string{"expand", m, "--method", "lemon", "--hidden", "9223372036854775807", "--dry-run"},
			"--hidden 9223372036854775807 is beyond grow's limit of 1048576"},
		{[]string{"expand", m, "-o", out, "--method", "lemon", "--hidden", "1000000", "--ffn", "1000"},
			"more than this machine's"},
		{[]string{"expand", m, "-o", out, "--method", "hypercloning", "--width-factor", "2", "--probes", "2000000000"},
			"give --no-check, or fewer --probes"},
		{[]string{"check", m, m, "--probes", "2000000000"},
			"2000000000 probes × 32 positions need about"},
	}
	for _, tc := range tests {
		var stderr bytes.Buffer
		code := runWith(tc.args, io.Discard, &stderr)
		if code != exitFailure || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("grow %s: exit %d, stderr %q; want exit 1 and %q", strings.Join(tc.args, " "), code, stderr.String(), tc.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("grow %s wrote %s", strings.Join(tc.args, " "), out)
		}
	}
}

// TestExpandMethodHelp: grow expand --method X --help shows X's flags and
// hides those of the other operators; without --method it lists them all.
func TestExpandMethodHelp(t *testing.T) {
	for _, tc := range []struct {
		method     string
		show, hide []string
	}{
		{"lemon", []string{"--hidden", "--split-scale", "--keep-tied", "--probes"}, []string{"--width-factor", "--pad-std"}},
		{"hypercloning", []string{"--width-factor", "--noise-snr-db", "--seed"}, []string{"--hidden", "--split-scale", "--pad-std"}},
		{"", []string{"--width-factor", "--split-scale", "--pad-std"}, nil},
	} {
		args := []string{"expand", "--help"}
		if tc.method != "" {
			args = append(args, "--method", tc.method)
		}
		var stdout bytes.Buffer
		if code := runWith(args, &stdout, io.Discard); code != 0 {
			t.Fatalf("grow %s: exit %d", strings.Join(args, " "), code)
		}
		flags := stdout.String()[strings.Index(stdout.String(), "Flags:"):]
		for _, f := range tc.show {
			if !strings.Contains(flags, f+" ") {
				t.Errorf("--method %q help lacks %s", tc.method, f)
			}
		}
		for _, f := range tc.hide {
			if strings.Contains(flags, f+" ") {
				t.Errorf("--method %q help shows %s", tc.method, f)
			}
		}
	}
}
