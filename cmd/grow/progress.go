package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/grow-ml/grow/checkpoint"
)

// barProgress is a checkpoint.Progress that draws one bar of bytes written, with
// the number of tensors done, the rate and the time left.
type barProgress struct {
	w       io.Writer
	desc    string
	bar     *progressbar.ProgressBar
	tensors int
	done    int
}

// newProgress returns a progress bar on w when w is a terminal and quiet is
// false, and nil (no progress reports) otherwise.
func newProgress(w io.Writer, desc string, quiet bool) checkpoint.Progress {
	if quiet {
		return nil
	}
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &barProgress{w: w, desc: desc}
}

func (p *barProgress) describe() string {
	return fmt.Sprintf("%s %d/%d tensors", p.desc, p.done, p.tensors)
}

// Start implements checkpoint.Progress.
func (p *barProgress) Start(tensors int, bytes int64) {
	p.tensors, p.done = tensors, 0
	p.bar = progressbar.NewOptions64(bytes,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(p.describe()),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
	)
}

// Add implements checkpoint.Progress.
func (p *barProgress) Add(n int64, tensorDone bool) {
	if p.bar == nil {
		return
	}
	if tensorDone {
		p.done++
		p.bar.Describe(p.describe())
	}
	_ = p.bar.Add64(n)
}

// Finish implements checkpoint.Progress. It ends the bar's line: the bar is
// drawn again after it reaches 100% (the last tensor's count), so a newline on
// completion would come too early.
func (p *barProgress) Finish() {
	if p.bar == nil {
		return
	}
	if !p.bar.IsFinished() {
		_ = p.bar.Exit()
	}
	fmt.Fprintln(p.w)
}
