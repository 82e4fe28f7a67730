package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// dirNames lists the names in dir, sorted.
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
	slices.Sort(out)
	return out
}

// TestStageCommitDiscardKeep: a staged output is complete and readable at
// Path before it is anywhere else; Commit, Discard and Keep leave exactly one
// thing (or nothing) beside it, lock file included.
func TestStageCommitDiscardKeep(t *testing.T) {
	src := openStories(t)
	for _, end := range []string{"commit", "discard", "keep"} {
		t.Run(end, func(t *testing.T) {
			parent := t.TempDir()
			out := filepath.Join(parent, "out")
			s, err := Stage(out, copyEntries(src), WriteOptions{Config: src.Config, Sync: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("the destination exists before Commit")
			}
			staged, err := Open(s.Path())
			if err != nil {
				t.Fatalf("the staged directory does not open: %v", err)
			}
			staged.Close()
			var want []string
			switch end {
			case "commit":
				how, err := s.Commit()
				if err != nil || how != "" {
					t.Fatalf("Commit: %q %v", how, err)
				}
				want = []string{"out"}
			case "discard":
				if err := s.Discard(); err != nil {
					t.Fatal(err)
				}
			case "keep":
				if err := s.Keep(out + ".failed-check"); err != nil {
					t.Fatal(err)
				}
				want = []string{"out.failed-check"}
			}
			if got := dirNames(t, parent); !slices.Equal(got, want) {
				t.Errorf("after %s the parent holds %v, want %v", end, got, want)
			}
			if _, err := s.Commit(); err == nil {
				t.Error("a second Commit succeeded")
			}
		})
	}
}

// TestStageForceSwaps: --force replaces an existing output in one step where
// the system can, and says how; nothing else is left beside it.
func TestStageForceSwaps(t *testing.T) {
	src := openStories(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Stage(out, copyEntries(src), WriteOptions{Config: src.Config, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	how, err := s.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" && how != "swapped in atomically" && !strings.Contains(how, "two renames") {
		t.Errorf("Commit said %q", how)
	}
	t.Logf("replacement: %s", how)
	if got := dirNames(t, parent); !slices.Equal(got, []string{"out"}) {
		t.Errorf("parent holds %v, want [out]", got)
	}
	if got := dirNames(t, out); !slices.Contains(got, "model.safetensors") {
		t.Errorf("out holds %v, want the new model", got)
	}
}

// TestStageRemovesStale: the temporary directory of a killed run (its lock
// file free) is removed by the next run for the same output, which says so; a
// running write's (lock held) is left alone.
func TestStageRemovesStale(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("stale temporary directories are detected by their lock on Linux only")
	}
	src := openStories(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	running, err := Stage(out, copyEntries(src), WriteOptions{Config: src.Config})
	if err != nil {
		t.Fatal(err)
	}
	defer running.Discard()
	stale := filepath.Join(parent, ".out"+tmpMark+"123")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "model.safetensors"), make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale+lockSuffix, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var said []string
	logf := func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }
	s, err := Stage(out, copyEntries(src), WriteOptions{Config: src.Config, Logf: logf})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("the stale temporary directory is still there")
	}
	if len(said) != 1 || !strings.Contains(said[0], stale) {
		t.Errorf("Logf was told %q, want one line naming %s", said, stale)
	}
	if _, err := os.Stat(running.Path()); err != nil {
		t.Errorf("the running write's directory was removed: %v", err)
	}
	if _, err := s.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestStageRefusesSourceInside: replacing a directory that a source file
// resolves into (through a symbolic link) is refused before anything is
// written.
func TestStageRefusesSourceInside(t *testing.T) {
	src := openStories(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(out, "weights.safetensors")
	if err := os.WriteFile(real, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(parent, "model.safetensors")
	if err := os.Symlink(real, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	_, err := Stage(out, copyEntries(src), WriteOptions{Force: true, Sources: []string{link}})
	if err == nil || !strings.Contains(err.Error(), "resolves into it") {
		t.Fatalf("err = %v, want a refusal naming the source", err)
	}
	if got := dirNames(t, parent); !slices.Equal(got, []string{"model.safetensors", "out"}) {
		t.Errorf("parent holds %v after the refusal", got)
	}
}
