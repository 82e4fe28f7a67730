package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binOut  []byte
)

// growBinary builds grow once per test run as README.md says to install it:
// CGO_ENABLED=0, a static binary.
func growBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build grow with")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "grow-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "grow")
		cmd := exec.Command(goBin, "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		binOut, binErr = cmd.CombinedOutput()
	})
	if binErr != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./cmd/grow: %v\n%s", binErr, binOut)
	}
	return binPath
}

// TestStaticBuild: grow builds without cgo, and on Linux the result is a
// static executable (no program interpreter, no shared libraries).
func TestStaticBuild(t *testing.T) {
	bin := growBinary(t)
	if runtime.GOOS != "linux" {
		return
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %v program header: it is dynamically linked", bin, p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", bin, libs)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || len(out) == 0 {
		t.Errorf("%s version: %v %q", bin, err, out)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
