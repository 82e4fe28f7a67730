package learngene

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	selection "github.com/grow-ml/grow/select"
)

// TestQuality is the measurement: a TLEG gene and an SWS gene
// extracted from stories260k, expanded to 3, 5 and 8 blocks, against random
// initialisations of the same shape on stories the model did not see in
// this test: the calibrated loss of every expansion beats random init's.
func TestQuality(t *testing.T) {
	if testing.Short() {
		t.Skip("measures losses over thousands of positions")
	}
	ck, err := checkpoint.Open(filepath.Join("..", "testdata", "stories260k"))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	g, err := graph.FromCheckpoint(ck)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("..", "select", "testdata", "stories-eval.ids"))
	if err != nil {
		t.Fatal(err)
	}
	eval, err := selection.ParseIDs(b, "stories-eval.ids")
	if err != nil {
		t.Fatal(err)
	}
	eval = eval[:20]
	fit, err := Fit(g)
	if err != nil {
		t.Fatal(err)
	}
	var rep strings.Builder
	for _, f := range fit {
		fmt.Fprintf(&rep, "R² %-26s %.3f\n", f.Role, f.R2)
	}
	teacher, err := selection.Evaluate(g, eval)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&rep, "teacher (5 blocks): raw %.3f calibrated %.3f\n", teacher.Raw, teacher.Calibrated)
	genes := map[string]*graph.Graph{}
	manifests := map[string]*Manifest{}
	for _, kind := range []string{TLEG, SWS} {
		op := &ExtractOp{Extract: Extract{Kind: kind}}
		genes[kind], manifests[kind] = expand(t, g, op), op.Manifest
	}
	for _, n := range []int{3, 5, 8} {
		best := math.Inf(1) // the best random init of the shape, two seeds
		for _, kind := range []string{TLEG, SWS} {
			out := expand(t, genes[kind], &ExpandOp{Expand: Expand{Layers: n}, Manifest: manifests[kind]})
			if math.IsInf(best, 1) {
				for s := uint64(1); s <= 2; s++ {
					r, err := selection.Evaluate(selection.RandomInit(out, 0, s), eval)
					if err != nil {
						t.Fatal(err)
					}
					best = math.Min(best, r.Calibrated)
				}
			}
			l, err := selection.Evaluate(out, eval)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&rep, "%s %d blocks: raw %.3f calibrated %.3f (T %.2f); best random init calibrated %.3f\n",
				kind, n, l.Raw, l.Calibrated, l.Temperature, best)
			if !(l.Calibrated < best) {
				t.Errorf("%s expanded to %d blocks: calibrated loss %.3f does not beat random init's %.3f", kind, n, l.Calibrated, best)
			}
		}
	}
	t.Log("\n" + rep.String())
}
