package grow_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The operators state their claims in package claim; they do not depend on
// the forward pass that checks them.
func TestNoProbeDependency(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/grow-ml/grow/probe" {
			t.Errorf("package grow depends on %s", p)
		}
	}
}
