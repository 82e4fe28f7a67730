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
// against it with pytest, offline.
func TestInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("interop tests skipped in -short mode")
	}
	python, explicit := findPython()
	if err := checkPython(python); err != nil {
		missing := "no Python with " + strings.Join(requiredModules, ", ") +
			" at " + python + ": " + err.Error() + "; " + enableHint
		if explicit || os.Getenv("CI") == "true" {
			// GROW_PYTHON or CI asked for the interop tests: not running them is a failure.
			t.Fatal("interop tests cannot run: " + missing)
		}
		msg := "interop tests SKIPPED: " + missing
		tellTerminal(msg)
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
// ./... prints nothing of a passing package's output, so a skip would otherwise go
// unnoticed by the person who ran the tests; CI has no terminal and fails instead.
func tellTerminal(msg string) {
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer tty.Close()
	fmt.Fprintf(tty, "\ngrow/interop: %s\n\n", msg)
}
