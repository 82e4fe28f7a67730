package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFullDisk writes a model onto a small tmpfs that cannot hold it: convert
// fails with the system's error, expand refuses before writing since it knows
// its output's size; both leave nothing on the file system and the source
// unchanged. It needs the right to mount (root, or a user
// namespace); elsewhere it is skipped with a message.
func TestFullDisk(t *testing.T) {
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): the full-disk case is not tested", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, 0) })
	src := testModel("stories260k")
	before := tensorHashes(t, src)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"convert", src, "-o", filepath.Join(mnt, "out"), "--quiet"}, "no space left on device"},
		{[]string{"expand", src, "-o", filepath.Join(mnt, "out"), "--method", "hypercloning", "--width-factor", "2", "--quiet"},
			"free on the file system of"},
	} {
		args := tc.args
		var stderr bytes.Buffer
		code := runWith(args, io.Discard, &stderr)
		if code != exitFailure || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("grow %s: exit %d, stderr %q; want exit 1 and %q", args[0], code, stderr.String(), tc.want)
		}
		if left, _ := os.ReadDir(mnt); len(left) != 0 {
			t.Errorf("grow %s left %v on the full file system", args[0], left)
		}
	}
	sameHashes(t, before, tensorHashes(t, src))
}
