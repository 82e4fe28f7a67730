//go:build unix

package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// interruptWriter sends the process a SIGINT on its first write and then waits
// (up to 10 s) until the write's context has seen it, as a Ctrl-C mid-write.
type interruptWriter struct {
	w    io.Writer
	ctx  *context.Context
	sent bool
}

func (iw *interruptWriter) Write(p []byte) (int, error) {
	if !iw.sent {
		iw.sent = true
		if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
			return 0, err
		}
		select {
		case <-(*iw.ctx).Done():
		case <-time.After(10 * time.Second):
			return 0, errors.New("SIGINT not seen within 10 s")
		}
	}
	return iw.w.Write(p)
}

// TestConvertInterrupted: a SIGINT (Ctrl-C) while grow writes a sharded
// checkpoint stops the write with an error that says so, and leaves neither the
// output nor the temporary directory beside it; the source is unchanged.
func TestConvertInterrupted(t *testing.T) {
	src := testModel("stories260k")
	before := tensorHashes(t, src)
	var ctx context.Context
	orig := writeContext
	writeContext = func() (context.Context, context.CancelFunc) {
		c, stop := orig()
		ctx = c
		return c, stop
	}
	t.Cleanup(func() { writeContext = orig })
	ck, g, err := openGraph(src)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	entries, err := g.Entries("")
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	o := outputFlags{out: out, maxShardSize: "100KB", quiet: true}
	if err := o.prepare(src); err != nil {
		t.Fatal(err)
	}
	_, err = stageModel(io.Discard, "convert", ck, entries, g.OutputConfig(), "", map[string]string{}, o,
		func(w io.Writer) io.Writer { return &interruptWriter{w: w, ctx: &ctx} }, nil)
	if err == nil || !strings.Contains(err.Error(), "interrupted") || !strings.Contains(err.Error(), out) {
		t.Fatalf("err = %v, want one saying that writing %s was interrupted", err, out)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Fatalf("%s holds %v after an interrupted write, want nothing", parent, ents)
	}
	sameHashes(t, before, tensorHashes(t, src))
}

// TestInterruptedBinary sends SIGINT to the grow binary during a check, and
// during expand's check after its output was written: each exits with status
// 130 and says on stderr what it stopped.
func TestInterruptedBinary(t *testing.T) {
	bin := growBinary(t)
	src := testModel("stories260k")
	out := filepath.Join(t.TempDir(), "x2")
	tests := []struct {
		name  string
		args  []string
		ready func() bool // when to send the signal
		want  string      // in stderr
	}{
		{"check", []string{"check", src, src, "--probes", "2000"}, nil, "grow check: interrupted"},
		{"expand's check", []string{"expand", src, "-o", out, "--method", "hypercloning", "--width-factor", "2", "--probes", "2000"},
			func() bool {
				staged, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".x2.grow-tmp-*", "config.json"))
				return len(staged) > 0
			},
			"interrupted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond) // past start-up: the handler is installed
			for deadline := time.Now().Add(20 * time.Second); tc.ready != nil && !tc.ready(); {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("the output did not appear within 20 s")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
				t.Errorf("exit %v, want status %d", err, exitInterrupted)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q, want it to say %q", stderr.String(), tc.want)
			}
			if left, _ := os.ReadDir(filepath.Dir(out)); len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// TestKilledBinary kills grow (SIGKILL: nothing of grow runs after it) while it
// writes and while it checks, onto a fresh -o and onto an earlier output with
// --force: -o then holds nothing or the earlier output, never a partial or
// unchecked one, and the next run removes what the killed one left, saying so.
func TestKilledBinary(t *testing.T) {
	bin := growBinary(t)
	src := testModel("stories260k")
	staged := func(parent string) func() bool {
		return func() bool {
			m, _ := filepath.Glob(filepath.Join(parent, ".out.grow-tmp-*", "config.json"))
			return len(m) > 0
		}
	}
	writing := func(parent string) func() bool {
		return func() bool {
			m, _ := filepath.Glob(filepath.Join(parent, ".out.grow-tmp-*", "*.safetensors"))
			return len(m) > 0
		}
	}
	for _, tc := range []struct {
		name    string
		force   bool
		when    func(parent string) func() bool
		command []string
	}{
		{"expand while writing", false, writing, []string{"expand", src, "--method", "hypercloning", "--width-factor", "8", "--max-shard-size", "1MB", "--quiet"}},
		{"expand while checking", false, staged, []string{"expand", src, "--method", "hypercloning", "--width-factor", "2", "--probes", "2000", "--quiet"}},
		{"expand --force while checking", true, staged, []string{"expand", src, "--method", "hypercloning", "--width-factor", "2", "--probes", "2000", "--quiet"}},
		{"convert while writing", true, writing, []string{"convert", src, "--max-shard-size", "10KB", "--quiet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			out := filepath.Join(parent, "out")
			var before map[string]string
			if tc.force {
				if code := runWith([]string{"convert", src, "-o", out, "--quiet"}, io.Discard, io.Discard); code != 0 {
					t.Fatalf("first convert: exit %d", code)
				}
				before = tensorHashes(t, out)
			}
			args := append(append([]string{}, tc.command...), "-o", out)
			if tc.force {
				args = append(args, "--force")
			}
			cmd := exec.Command(bin, args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ready := tc.when(parent)
			deadline := time.Now().Add(20 * time.Second)
			for !ready() {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("the stage to kill at did not come within 20 s")
				}
				time.Sleep(time.Millisecond)
			}
			cmd.Process.Kill()
			cmd.Wait()
			if tc.force {
				sameHashes(t, before, tensorHashes(t, out))
			} else if _, err := os.Stat(out); err == nil {
				t.Fatalf("%s exists after grow was killed", out)
			}
			// The next run for the same output cleans up after the killed one.
			var stderr strings.Builder
			next := exec.Command(bin, "convert", src, "-o", out, "--force", "--quiet")
			next.Stderr = &stderr
			if err := next.Run(); err != nil {
				t.Fatalf("next run: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "left by an earlier run that was stopped") {
				t.Errorf("the next run did not say it cleaned up: %q", stderr.String())
			}
			if left := dirNames(t, parent); !slices.Equal(left, []string{"out"}) {
				t.Errorf("after the next run %s holds %v, want [out]", parent, left)
			}
		})
	}
}
