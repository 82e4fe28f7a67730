package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Staged is a model directory written by Stage into a temporary directory
// beside its destination, not yet in place. Commit moves it there; Discard
// removes it; Keep moves it to another name. A Staged is used by one
// goroutine.
type Staged struct {
	dest    string
	tmp     string
	lock    *os.File // held while the staged directory exists; beside it, never inside
	created []string // parent directories Stage created, deepest first
	force   bool
	sync    bool
	done    bool
}

// tmpMark is in the name of every temporary directory: ".NAME" + tmpMark + random.
const tmpMark = ".grow-tmp-"

// lockSuffix ends the name of the lock file beside a temporary directory.
const lockSuffix = ".lock"

// newStaged removes the stale temporary directories of dest, then creates a
// new one with its lock held.
func newStaged(dest string, opts WriteOptions) (*Staged, error) {
	parent := filepath.Dir(dest)
	created, err := missingDirs(parent)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	s := &Staged{dest: dest, created: created, force: opts.Force, sync: opts.Sync}
	removeStale(parent, filepath.Base(dest), opts.Logf)
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dest)+tmpMark)
	if err != nil {
		s.removeCreated()
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	s.tmp = tmp
	if s.lock, err = lockFile(tmp + lockSuffix); err != nil {
		s.Discard()
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it 0700
		s.Discard()
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return s, nil
}

// Path is the staged directory, complete and readable until Commit, Discard
// or Keep.
func (s *Staged) Path() string { return s.tmp }

// Commit moves the staged directory to its destination. An existing
// destination (Stage's opts.Force) is swapped with it in one step where the
// system can (renameat2 RENAME_EXCHANGE on Linux) and then removed; elsewhere
// it is moved aside, the new one moved in, and the old one removed. how says
// which ("" when there was nothing to replace).
func (s *Staged) Commit() (how string, err error) {
	if s.done {
		return "", errors.New("checkpoint: staged output already committed or discarded")
	}
	if s.sync {
		if err := syncPath(filepath.Dir(s.dest)); err != nil {
			return "", err
		}
	}
	exists, err := pathExists(s.dest)
	if err != nil {
		return "", err
	}
	switch {
	case !exists:
		if err := os.Rename(s.tmp, s.dest); err != nil {
			return "", fmt.Errorf("checkpoint: moving the output into place: %w", err)
		}
	case !s.force:
		return "", fmt.Errorf("checkpoint: output %s appeared while writing; not replaced", s.dest)
	default:
		if how, err = s.replace(); err != nil {
			return "", err
		}
	}
	s.finish()
	if s.sync {
		if err := syncPath(filepath.Dir(s.dest)); err != nil {
			return how, err
		}
	}
	return how, nil
}

// replace puts the staged directory in the place of the existing destination
// and removes the old one (which the temporary name holds afterwards).
func (s *Staged) replace() (string, error) {
	how := "swapped in atomically"
	if err := exchange(s.tmp, s.dest); err != nil {
		how = "replaced by two renames (this system cannot swap directories atomically)"
		old := s.tmp + ".old"
		if err := os.Rename(s.dest, old); err != nil {
			return "", fmt.Errorf("checkpoint: moving the old %s aside: %w", s.dest, err)
		}
		if err := os.Rename(s.tmp, s.dest); err != nil {
			if rerr := os.Rename(old, s.dest); rerr != nil {
				return "", fmt.Errorf("checkpoint: moving the output into place: %w (and restoring the old one failed: %v; it is at %s)", err, rerr, old)
			}
			return "", fmt.Errorf("checkpoint: moving the output into place: %w", err)
		}
		if err := os.Rename(old, s.tmp); err != nil {
			return how, fmt.Errorf("checkpoint: output written, but the old directory stays at %s: %w", old, err)
		}
	}
	if err := os.RemoveAll(s.tmp); err != nil {
		return how, fmt.Errorf("checkpoint: output written, but removing the old directory (now %s) failed: %w", s.tmp, err)
	}
	return how, nil
}

// Discard removes the staged directory, its lock and the parent directories
// Stage created. It is a no-op after Commit, Keep or an earlier Discard.
func (s *Staged) Discard() error {
	if s.done {
		return nil
	}
	err := os.RemoveAll(s.tmp)
	s.finish()
	s.removeCreated()
	return err
}

// Keep moves the staged directory to name (which must not exist) instead of
// its destination: a failed check's output kept for inspection.
func (s *Staged) Keep(name string) error {
	if s.done {
		return errors.New("checkpoint: staged output already committed or discarded")
	}
	if exists, err := pathExists(name); err != nil || exists {
		if err == nil {
			err = fmt.Errorf("%s already exists", name)
		}
		return fmt.Errorf("checkpoint: keeping the output: %w", err)
	}
	if err := os.Rename(s.tmp, name); err != nil {
		return fmt.Errorf("checkpoint: keeping the output: %w", err)
	}
	s.finish()
	return nil
}

// finish removes and releases the lock.
func (s *Staged) finish() {
	s.done = true
	if s.lock != nil {
		os.Remove(s.lock.Name())
		s.lock.Close()
		s.lock = nil
	}
}

func (s *Staged) removeCreated() {
	for _, d := range s.created {
		os.Remove(d) // only empty directories go
	}
}

// removeStale removes the temporary directories that earlier runs writing
// parent/base left behind when they were killed: those whose lock file is
// beside them and free. A directory whose lock is held belongs to a running
// write and is left alone, as is one without a lock file (a write about to
// rename it). logf, when not nil, is told of each removal.
func removeStale(parent, base string, logf func(string, ...any)) {
	locks, err := filepath.Glob(filepath.Join(parent, "."+escapeGlob(base)+tmpMark+"*"+lockSuffix))
	if err != nil {
		return
	}
	for _, l := range locks {
		f, ok := tryLock(l)
		if !ok {
			continue
		}
		tmp := strings.TrimSuffix(l, lockSuffix)
		for _, p := range []string{tmp, tmp + ".old"} {
			if exists, _ := pathExists(p); exists {
				if err := os.RemoveAll(p); err == nil && logf != nil {
					logf("removed %s, left by an earlier run that was stopped", p)
				}
			}
		}
		os.Remove(l)
		f.Close()
	}
}

// escapeGlob escapes the characters filepath.Match treats specially.
func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}
