package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/learngene"
)

// TestLearngeneCLI extracts a TLEG and an SWS gene from stories260k, checks
// their manifests, and expands them; the SWS layer source is honoured block
// by block and the manifest is not carried into the expansion.
func TestLearngeneCLI(t *testing.T) {
	dir := t.TempDir()
	tleg, sws := filepath.Join(dir, "tleg"), filepath.Join(dir, "sws")
	text, stderr, err := growExec(t, "learngene", "extract", expandStories, "-o", tleg)
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, text, stderr)
	}
	for _, s := range []string{"R² per tensor", "layers.*.mlp.down.weight", "every tensor as computed"} {
		if !strings.Contains(text, s) {
			t.Errorf("extract output lacks %q:\n%s", s, text)
		}
	}
	m, err := learngene.ReadManifest(tleg)
	if err != nil || m.Kind != learngene.TLEG || m.SourceLayers != 5 || len(m.Fit) != 9 {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	if _, _, err := growExec(t, "learngene", "extract", expandStories, "-o", sws, "--kind", "sws", "--stages", "2,3", "--member", "first"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "sws6")
	if text, _, err := growExec(t, "learngene", "expand", sws, "-o", out, "--layers-source", "0,0,0,1,1,1"); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if _, err := os.Stat(filepath.Join(out, learngene.ManifestFile)); err == nil {
		t.Error("the gene's manifest was carried into its expansion")
	}
	_, src := openT(t, expandStories)
	_, got := openT(t, out)
	for i, s := range []int{0, 0, 0, 2, 2, 2} { // stage 1 of 2,3 with --member first is source block 2
		a, _ := got.Layers[i].Down.W.Float64()
		b, _ := src.Layers[s].Down.W.Float64()
		for k := range a {
			if a[k] != b[k] {
				t.Fatalf("block %d down[%d] is not source block %d's", i, k, s)
			}
		}
	}
	if text, _, err := growExec(t, "learngene", "expand", tleg, "-o", filepath.Join(dir, "tleg8"), "--layers", "8", "--dtype", "bf16", "-q"); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	_, t8 := openT(t, filepath.Join(dir, "tleg8"))
	if len(t8.Layers) != 8 || !t8.Tied || t8.Embed.DType() != checkpoint.BF16 {
		t.Errorf("tleg8: %d layers, tied %v, %s", len(t8.Layers), t8.Tied, t8.Embed.DType())
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"expand", expandStories, "-o", filepath.Join(dir, "x"), "--layers", "3"}, 1, "has no learngene.json: not a learngene"},
		{[]string{"expand", sws, "-o", filepath.Join(dir, "x"), "--layers-source", "1,0"}, 2, "must not decrease"},
		{[]string{"expand", sws, "-o", filepath.Join(dir, "x"), "--layers-source", "0,0"}, 2, "stage 1 is not used"},
		{[]string{"expand", tleg, "-o", filepath.Join(dir, "x")}, 2, "no depth: give --layers L"},
		{[]string{"extract", expandStories, "-o", filepath.Join(dir, "x"), "--kind", "sws", "--stages", "2,2"}, 2, "cover 4 blocks, the source has 5"},
		{[]string{"extract", expandStories, "-o", filepath.Join(dir, "x"), "--stages", "x"}, 2, `"x" is not a whole number`},
	} {
		var errOut strings.Builder
		code := runWith(append([]string{"learngene"}, c.args...), &strings.Builder{}, &errOut)
		if code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, want %d; stderr %q lacks %q", c.args, code, c.code, errOut.String(), c.want)
		}
	}
}

func openT(t *testing.T, dir string) (*checkpoint.Checkpoint, *graph.Graph) {
	t.Helper()
	ck, g, err := openGraph(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ck.Close() })
	return ck, g
}
