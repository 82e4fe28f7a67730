package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// requiredModules are the Python packages the interop tests import.
var requiredModules = []string{"torch", "transformers", "safetensors", "tokenizers", "numpy", "pytest"}

const enableHint = "to run them, install the pinned packages once with `bash .ci/run` " +
	"(creates ~/.cache/grow/venv), or `python3 -m venv ~/.cache/grow/venv && " +
	"~/.cache/grow/venv/bin/pip install -r interop/requirements.txt`, or point GROW_PYTHON at a " +
	"python that has them"

// findPython returns the interpreter to use and whether the caller named it explicitly
// (GROW_PYTHON), in which case a broken interpreter is an error rather than a skip.
func findPython() (path string, explicit bool) {
	if p := os.Getenv("GROW_PYTHON"); p != "" {
		return p, true
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", false
	}
	return filepath.Join(home, ".cache", "grow", "venv", "bin", "python"), false
}

// checkPython reports why python cannot run the interop tests, or nil if it can.
func checkPython(python string) error {
	if _, err := os.Stat(python); err != nil {
		return err
	}
	code := "import " + strings.Join(requiredModules, ", ")
	out, err := exec.Command(python, "-c", code).CombinedOutput()
	if err != nil {
		return errors.New(strings.TrimSpace(string(out)) + " (" + err.Error() + ")")
	}
	return nil
}

// lineLogger forwards complete lines written to it to t.Log, so pytest's output appears in
// the test log (live with -v).
type lineLogger struct {
	t   *testing.T
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			// Incomplete line: keep it for the next write.
			l.buf.Reset()
			l.buf.WriteString(line)
			return len(p), nil
		}
		l.t.Log(strings.TrimRight(line, "\r\n"))
	}
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 0 {
		l.t.Log(l.buf.String())
		l.buf.Reset()
	}
}

// touchInputs stats every file of the module (outside .git) so that go test's result cache,
// which only sees files this process touches, reruns this test when the Go sources, the Python
// tests or the test data change; the pytest subprocess reads them behind its back.
func touchInputs(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "__pycache__", ".pytest_cache":
				return filepath.SkipDir
			}
			return nil
		}
		_, err = os.Stat(path)
		return err
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
}

// TestInterop builds the grow binary and runs the Python interop tests (interop/test_*.py)
// against it with pytest, offline. Without a Python environment for them it
// skips, unless GROW_PYTHON or CI asks for them: then it fails.
func TestInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("interop tests skipped in -short mode")
	}
	python, explicit := findPython()
	if err := checkPython(python); err != nil {
		missing := "no Python with " + strings.Join(requiredModules, ", ") +
			" at " + python + ": " + err.Error() + "; " + enableHint
		if explicit || os.Getenv("CI") != "" {
			t.Fatal("interop tests cannot run: " + missing)
		}
		msg := "interop tests SKIPPED (none run): " + missing
		tellTerminal(msg)
		// go test ./... prints nothing of a passing package but its "ok" line,
		// even into a pipe or a log; this line of the testing package's makes
		// the go command end it with "[no tests to run]", which is the truth.
		fmt.Println("\ntesting: warning: no tests to run")
		t.Skip(msg)
	}

	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	touchInputs(t, root)

	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build grow for the interop tests: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "grow")
	build := exec.Command(goBin, "build", "-o", bin, "./cmd/grow")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/grow: %v\n%s", err, out)
	}

	// Leave a margin before go test's own deadline so pytest's output is not lost.
	timeout := 9 * time.Minute
	if dl, ok := t.Deadline(); ok {
		if left := time.Until(dl) - 20*time.Second; left < timeout {
			timeout = left
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
		"--durations=8", "interop/")
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"GROW_BIN="+bin,
		"HF_HUB_OFFLINE=1",
		"TRANSFORMERS_OFFLINE=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"TMPDIR="+t.TempDir(),
	)
	log := &lineLogger{t: t}
	cmd.Stdout = log
	cmd.Stderr = log
	start := time.Now()
	err = cmd.Run()
	log.flush()
	t.Logf("pytest took %s", time.Since(start).Round(time.Second))
	if ctx.Err() != nil {
		t.Fatalf("pytest did not finish within %s", timeout)
	}
	if err != nil {
		t.Fatalf("interop tests failed (pytest: %v); output above", err)
	}
}

// tellTerminal writes msg to the controlling terminal, when there is one. go test
// ./... prints nothing of a passing package's output but its "ok" line, so the
// person who ran the tests sees why the package had no tests to run.
func tellTerminal(msg string) {
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer tty.Close()
	fmt.Fprintf(tty, "\ngrow/interop: %s\n\n", msg)
}

// TestSkipIsVisible runs TestInterop in a child go test without a Python
// environment: it must end the package's "ok" line with "[no tests to run]"
// (visible in a pipe or a log), and fail when CI is set.
func TestSkipIsVisible(t *testing.T) {
	if os.Getenv("GROW_INTEROP_CHILD") != "" {
		t.Skip("child of TestSkipIsVisible")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to run the child test")
	}
	home := t.TempDir()
	// The child's HOME is empty; its caches stay where this go test's are.
	caches, err := exec.Command(goBin, "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	paths := strings.Fields(string(caches))
	if len(paths) != 3 {
		t.Fatalf("go env GOCACHE GOMODCACHE GOPATH printed %q", caches)
	}
	child := func(ci string) (string, error) {
		cmd := exec.Command(goBin, "test", "-count=1", "-run", "^TestInterop$", ".")
		var env []string
		for _, kv := range os.Environ() {
			switch k, _, _ := strings.Cut(kv, "="); k {
			case "CI", "GROW_PYTHON", "HOME", "GOCACHE", "GOMODCACHE", "GOPATH":
			default:
				env = append(env, kv)
			}
		}
		env = append(env, "HOME="+home, "GROW_INTEROP_CHILD=1",
			"GOCACHE="+paths[0], "GOMODCACHE="+paths[1], "GOPATH="+paths[2])
		if ci != "" {
			env = append(env, "CI="+ci)
		}
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := child("")
	if err != nil || !strings.Contains(out, "[no tests to run]") {
		t.Errorf("without Python and CI: err %v, want success with \"[no tests to run]\" in:\n%s", err, out)
	}
	out, err = child("true")
	if err == nil || !strings.Contains(out, "interop tests cannot run") {
		t.Errorf("without Python, CI=true: err %v, want a failure saying the interop tests cannot run:\n%s", err, out)
	}
}
