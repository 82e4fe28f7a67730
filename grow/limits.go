package grow

import (
	"fmt"

	"github.com/grow-ml/grow/internal/sysmem"
	"github.com/grow-ml/grow/transform"
)

// MaxSize is the largest target size grow accepts for one dimension (hidden
// width, heads, key/value heads, FFN width): 2^20, forty times the widest
// released models, and small enough that a plan's index maps stay a few
// megabytes.
const MaxSize = 1 << 20

// LimitError is a target that grow refuses because it is beyond MaxSize or
// the machine's memory. Unlike an OptionError it is not a malformed request:
// it names the limit and the numbers that exceed it.
type LimitError struct{ Err error }

func (e *LimitError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *LimitError) Unwrap() error { return e.Err }

// checkSize refuses a target size v beyond MaxSize; what says what it is, with
// its value ("--hidden 1000000000", "the hidden width 3×64 = 192").
func checkSize(what string, v float64) error {
	if v > MaxSize {
		return &LimitError{fmt.Errorf("%s is beyond grow's limit of %d (2^20) for one dimension", what, MaxSize)}
	}
	return nil
}

// size formats a size that may not fit an int: 192, or 1.92e+19.
func size(v float64) string {
	if v < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// checkMemory refuses a plan whose largest tensor, computed in float32 while
// it is written (about 2.5 copies live), needs more than the machine's memory.
func checkMemory(p *transform.Report) error {
	var largest transform.Step
	for _, t := range p.Tensors {
		if transform.Elements(t.DstShape) > transform.Elements(largest.DstShape) {
			largest = t
		}
	}
	need := 2.5 * 4 * float64(transform.Elements(largest.DstShape))
	if have := sysmem.Total(); need > float64(have) {
		return &LimitError{fmt.Errorf("the largest output tensor, %s %v, needs about %s while it is computed and written, "+
			"more than this machine's %s of memory", largest.Role, largest.DstShape, sysmem.Bytes(need), sysmem.Bytes(float64(have)))}
	}
	return nil
}
