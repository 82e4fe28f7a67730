package selection

import (
	"fmt"
	"io"
	"math"

	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/grow"
)

// Row is one model of a Compare report.
type Row struct {
	Name string
	Loss Loss
	// Err is why the model could not be built or run.
	Err error
}

// Compare measures, on the evaluation sequences, the loss of the teacher g,
// of the student op makes, of the students the other element rules make
// with op's sizes and blocks (uniform, first, random and, with calibration
// text, importance), and of randomly initialised models of the student's
// shape (seeds 1..inits): what a shrunk model starts with, against random
// initialisation.
func Compare(g *graph.Graph, op *Shrink, eval [][]int, inits int) ([]Row, error) {
	res, err := grow.Expand(g, op)
	if err != nil {
		return nil, err
	}
	var rows []Row
	add := func(name string, m *graph.Graph) {
		l, err := Evaluate(m, eval)
		rows = append(rows, Row{Name: name, Loss: l, Err: err})
	}
	add("teacher", g)
	rule, _, _ := parseElements(op.Elements)
	add("this run ("+rule+")", res.Graph)
	for _, e := range []string{ElementsUniform, ElementsFirst, ElementsRandom, ElementsImportance} {
		if e == rule {
			continue
		}
		if e == ElementsImportance && op.Scores == nil && len(op.Calib) == 0 {
			rows = append(rows, Row{Name: e, Err: fmt.Errorf("no calibration text (--calib-ids)")})
			continue
		}
		o := *op
		o.Elements = e
		r, err := grow.Expand(g, &o)
		if err != nil {
			rows = append(rows, Row{Name: e, Err: err})
			continue
		}
		op.Scores = o.Scores // measured once
		add(e, r.Graph)
	}
	for s := 1; s <= inits; s++ {
		add(fmt.Sprintf("random init (seed %d)", s), RandomInit(res.Graph, 0, uint64(s)))
	}
	return rows, nil
}

// PrintRows writes a Compare report as a table.
func PrintRows(w io.Writer, rows []Row) {
	fmt.Fprintf(w, "%-28s %10s %12s %8s\n", "model", "raw loss", "calibrated", "at T")
	for _, r := range rows {
		if r.Err != nil {
			fmt.Fprintf(w, "%-28s %s\n", r.Name, r.Err)
			continue
		}
		t := fmt.Sprintf("%.2f", r.Loss.Temperature)
		if math.IsInf(r.Loss.Temperature, 1) {
			t = "∞"
		}
		fmt.Fprintf(w, "%-28s %10.3f %12.3f %8s\n", r.Name, r.Loss.Raw, r.Loss.Calibrated, t)
	}
	if len(rows) > 0 && rows[0].Err == nil {
		fmt.Fprintf(w, "(nats per token over %d predicted positions; calibrated: the lowest loss of logits/T over T)\n", rows[0].Loss.Tokens)
	}
}
