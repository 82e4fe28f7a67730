package learngene

import (
	"fmt"
	"strings"

	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/transform"
)

// Expand makes a descendant of a gene.
type Expand struct {
	// Layers is the descendant's depth (required for TLEG; SWS may give
	// LayersSource alone).
	Layers int
	// LayersSource is SWS's list of the stage each block copies, e.g.
	// "0,0,1,1,2" (default: DefaultSource).
	LayersSource string
}

// DefaultSource allocates L blocks to stages in proportion to their lengths
// in the source (the SWS paper's guidance), each stage at least one block, by
// largest remainders (ties to the earlier stage); L must be at least the
// number of stages.
func DefaultSource(stages []int, L int) ([]int, error) {
	S := len(stages)
	if L < S {
		return nil, fmt.Errorf("%d blocks cannot use all %d stages (give --layers %d or more)", L, S, S)
	}
	total := 0
	for _, n := range stages {
		total += n
	}
	count := make([]int, S)
	rem := make([]float64, S)
	left := L - S
	given := 0
	for s, n := range stages {
		q := float64(left) * float64(n) / float64(total)
		count[s] = 1 + int(q)
		rem[s] = q - float64(int(q))
		given += int(q)
	}
	for ; given < left; given++ {
		best := 0
		for s := range rem {
			if rem[s] > rem[best] {
				best = s
			}
		}
		count[best]++
		rem[best] = -1
	}
	var out []int
	for s, c := range count {
		for range c {
			out = append(out, s)
		}
	}
	return out, nil
}

// CheckSource refuses a layer-source list that SWS cannot expand: every
// entry a stage of the gene, non-decreasing (stages keep their order), every
// stage used.
func CheckSource(src []int, stages int) error {
	used := make([]bool, stages)
	for i, s := range src {
		switch {
		case s < 0 || s >= stages:
			return fmt.Errorf("block %d copies stage %d, but the gene has stages 0..%d", i, s, stages-1)
		case i > 0 && s < src[i-1]:
			return fmt.Errorf("block %d copies stage %d after block %d copied stage %d: the list must not decrease (stages keep their order)", i, s, i-1, src[i-1])
		}
		used[s] = true
	}
	for s, u := range used {
		if !u {
			return fmt.Errorf("stage %d is not used: every stage of the gene must give at least one block", s)
		}
	}
	return nil
}

// Plan returns the plan that makes the descendant's blocks from the gene's
// and the descendant's layer sources (SWS: the stage of every block; TLEG:
// nil).
func (x *Expand) Plan(gene *graph.Graph, m *Manifest) (*transform.Plan, []int, error) {
	if err := m.Validate(gene); err != nil {
		return nil, nil, err
	}
	if x.Layers < 0 {
		return nil, nil, fmt.Errorf("--layers %d: want a positive depth", x.Layers)
	}
	params := map[string]any{"method": "learngene-expand", "kind": m.Kind}
	switch m.Kind {
	case TLEG:
		if x.LayersSource != "" {
			return nil, nil, fmt.Errorf("--layers-source is SWS's; a TLEG gene gives block i of L the weights θ_A + (i/L)·θ_B")
		}
		L := x.Layers
		if L == 0 {
			return nil, nil, fmt.Errorf("no depth: give --layers L")
		}
		layers := make([]transform.LayerSource, L)
		for i := range layers {
			layers[i] = transform.LayerSource{From: []transform.Weighted{{Layer: 0, Weight: 1}, {Layer: 1, Weight: float64(i) / float64(L)}}}
		}
		params["layers"] = L
		return plan(gene, "learngene-expand", layers, params), nil, nil
	case SWS:
		var src []int
		var err error
		if x.LayersSource != "" {
			if src, err = ParseList(x.LayersSource, "--layers-source"); err != nil {
				return nil, nil, err
			}
			if x.Layers != 0 && len(src) != x.Layers {
				return nil, nil, fmt.Errorf("--layers-source %q names %d blocks, but --layers says %d", x.LayersSource, len(src), x.Layers)
			}
		} else {
			if x.Layers == 0 {
				return nil, nil, fmt.Errorf("no depth: give --layers L or --layers-source")
			}
			if src, err = DefaultSource(m.Stages, x.Layers); err != nil {
				return nil, nil, err
			}
		}
		if err := CheckSource(src, len(m.Stages)); err != nil {
			return nil, nil, fmt.Errorf("--layers-source %s: %w", sourceText(src), err)
		}
		layers := make([]transform.LayerSource, len(src))
		for i, s := range src {
			layers[i] = transform.Copy(s)
		}
		params["layers"], params["layers_source"] = len(src), sourceText(src)
		return plan(gene, "learngene-expand", layers, params), src, nil
	}
	return nil, nil, fmt.Errorf("learngene: kind %q", m.Kind)
}

func sourceText(src []int) string {
	s := make([]string, len(src))
	for i, v := range src {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ",")
}
