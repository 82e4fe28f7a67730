package grow

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/graph/family"
)

// Width are the explicit target sizes of an operator that takes them (LEMON,
// zero-padding): 0 picks a default (heads follow the hidden width at
// unchanged head_dim, key/value heads keep the group size, FFN keeps its ratio
// to the hidden width).
type Width struct {
	Hidden, Heads, KVHeads, FFN int
	// HeadDim is the target head_dim; 0 or the source's keeps it. Any other
	// value is refused (RoPE frequencies and 1/sqrt(d) depend on it).
	HeadDim int
}

func (w *Width) params() []Param {
	return []Param{
		{Name: "hidden", Usage: "target hidden width", Value: &w.Hidden},
		{Name: "heads", Usage: "target query heads (default: hidden/head_dim)", Value: &w.Heads},
		{Name: "kv-heads", Usage: "target key/value heads (default keeps the group size)", Value: &w.KVHeads},
		{Name: "ffn", Usage: "target FFN width (default keeps its ratio to the hidden width)", Value: &w.FFN},
		{Name: "head-dim", Usage: "target head_dim (only the source's is accepted)", Value: &w.HeadDim},
	}
}

// target resolves the sizes for the source g: heads by targetHeads, the FFN
// by default in proportion to the hidden width. It refuses any size below the
// source's and beyond MaxSize.
func (w Width) target(op string, g *graph.Graph) (graph.Dims, error) {
	d := g.Dims
	if err := checkHeadDim(g, w.HeadDim); err != nil {
		return d, err
	}
	for _, f := range []struct {
		flag string
		v    int
	}{{"--hidden", w.Hidden}, {"--heads", w.Heads}, {"--kv-heads", w.KVHeads}, {"--ffn", w.FFN}} {
		if err := checkSize(fmt.Sprintf("%s %d", f.flag, f.v), float64(f.v)); err != nil {
			return d, err
		}
	}
	D2 := w.Hidden
	if f := float64(d.FFN) * float64(D2) / float64(d.Hidden); w.FFN == 0 && checkSize("", f) != nil {
		return d, checkSize(fmt.Sprintf("the FFN width that --hidden %d implies (%d·%d/%d = %s; give --ffn)", D2, d.FFN, D2, d.Hidden, size(f)), f)
	}
	if D2 < d.Hidden {
		return d, fmt.Errorf("%s: --hidden %d is smaller than the source's %d (grow expand only grows)", op, D2, d.Hidden)
	}
	h2, k2, err := targetHeads(g, w, D2)
	if err != nil {
		return d, fmt.Errorf("%s: %w", op, err)
	}
	i2 := w.FFN
	if i2 == 0 {
		i2 = d.FFN * D2 / d.Hidden
	}
	if i2 < d.FFN {
		return d, fmt.Errorf("%s: --ffn %d is smaller than the source's %d (grow expand only grows)", op, i2, d.FFN)
	}
	t := d
	t.Hidden, t.Heads, t.KVHeads, t.FFN = D2, h2, k2, i2
	return t, nil
}

// checkHeadDim refuses a target head_dim other than the source's.
func checkHeadDim(g *graph.Graph, headDim int) error {
	d := g.Dims
	if headDim != 0 && headDim != d.HeadDim {
		if g.RopeTheta != 0 {
			return fmt.Errorf("expand: head_dim %d -> %d refused: this %s model uses RoPE, whose frequencies theta^(-2j/d) and the 1/sqrt(d) attention scale depend on head_dim, so a wider head cannot compute the same function in a checkpoint; grow the number of heads instead (head_dim stays %d)", d.HeadDim, headDim, g.Family, d.HeadDim)
		}
		return fmt.Errorf("expand: head_dim %d -> %d refused: grow keeps head_dim fixed and grows the number of heads (the per-head interleave with q·k rescaling is not implemented)", d.HeadDim, headDim)
	}
	return nil
}

// targetHeads validates or defaults H', K' for a hidden width D'.
func targetHeads(g *graph.Graph, w Width, hidden int) (h2, k2 int, err error) {
	d := g.Dims
	derived := g.Features().HeadDim == family.Derived // head_dim = hidden/heads (GPT-2, BERT)
	h2 = w.Heads
	if h2 == 0 {
		if derived {
			if hidden%d.HeadDim != 0 {
				return 0, 0, fmt.Errorf("hidden %d is not a multiple of head_dim %d; %s derives head_dim = hidden/heads, so the heads cannot keep their width (pick a multiple of %d)", hidden, d.HeadDim, g.Family, d.HeadDim)
			}
			h2 = hidden / d.HeadDim
		} else {
			g0 := d.Heads / d.KVHeads
			h2 = d.Heads * hidden / d.Hidden
			if d.KVHeads > 1 {
				h2 -= h2 % g0
			}
			h2 = max(h2, d.Heads)
			if headsDivideHidden(g) && hidden%h2 != 0 {
				// the largest head count below that transformers' LlamaConfig accepts
				for h := h2 - 1; h >= d.Heads; h-- {
					if hidden%h == 0 && (d.KVHeads == 1 || h%g0 == 0) {
						h2 = h
						break
					}
				}
			}
		}
	}
	if headsDivideHidden(g) && hidden%h2 != 0 {
		desc := g.Descriptor()
		return 0, 0, fmt.Errorf("%d heads do not divide the hidden width %d: transformers' %s (model_type %s) refuses such a config even with head_dim written, so the checkpoint would not load; give --heads%s", h2, hidden, desc.ConfigClass, desc.ModelType, headsDividing(g, hidden))
	}
	if derived && h2*d.HeadDim != hidden {
		return 0, 0, fmt.Errorf("%d heads × head_dim %d = %d, not the hidden width %d; %s derives head_dim = hidden/heads, so heads must be hidden/%d = %g", h2, d.HeadDim, h2*d.HeadDim, hidden, g.Family, d.HeadDim, float64(hidden)/float64(d.HeadDim))
	}
	if h2 < d.Heads {
		return 0, 0, fmt.Errorf("target heads %d is smaller than the source's %d (grow expand only grows)", h2, d.Heads)
	}
	k2 = w.KVHeads
	if k2 == 0 {
		switch {
		case !g.Features().GQA:
			k2 = h2
		case d.KVHeads == 1:
			k2 = 1
		case h2%(d.Heads/d.KVHeads) == 0:
			k2 = h2 / (d.Heads / d.KVHeads)
		default:
			return 0, 0, fmt.Errorf("%d heads is not a multiple of the source's %d query heads per key/value head; give --kv-heads", h2, d.Heads/d.KVHeads)
		}
	}
	if !g.Features().GQA && k2 != h2 {
		return 0, 0, fmt.Errorf("%s has no grouped-query attention; key/value heads must equal heads (%d), not %d", g.Family, h2, k2)
	}
	if k2 < d.KVHeads {
		return 0, 0, fmt.Errorf("target key/value heads %d is smaller than the source's %d (grow expand only grows)", k2, d.KVHeads)
	}
	if h2%k2 != 0 {
		return 0, 0, fmt.Errorf("%d heads do not divide into %d key/value heads", h2, k2)
	}
	return h2, k2, nil
}

// headsDivideHidden reports whether g's transformers config class requires
// hidden_size % num_attention_heads == 0 whatever head_dim says (LlamaConfig
// for model_type llama; MistralConfig and Qwen2Config do not). A graph
// without a config is written without one, so no config class judges it.
func headsDivideHidden(g *graph.Graph) bool {
	d := g.Descriptor()
	return g.Config != nil && d != nil && d.Constraints.HeadsDivideHidden
}

// headsDividing lists, for the refusal of targetHeads, up to four head counts
// of at least the source's that divide hidden and keep whole query groups.
func headsDividing(g *graph.Graph, hidden int) string {
	d := g.Dims
	g0 := d.Heads / d.KVHeads
	var hs []string
	for h := d.Heads; h <= hidden && len(hs) < 4; h++ {
		if hidden%h == 0 && (d.KVHeads == 1 || h%g0 == 0) {
			hs = append(hs, strconv.Itoa(h))
		}
	}
	if len(hs) == 0 {
		return " (no head count of at least the source's divides it: pick another --hidden)"
	}
	return " dividing it, e.g. " + strings.Join(hs, ", ")
}
