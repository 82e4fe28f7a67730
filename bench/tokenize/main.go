// Command tokenize measures grow's tokenizers (package tokens) on a text
// file: it encodes the file with a model directory's tokenizer.json, as one
// text and paragraph by paragraph ("\n\n"), the best of -runs runs each, and
// prints one line per mode: tokens and MB/s of process CPU time (user and
// system, so that other load on the machine does not count; the garbage
// collector's threads do). bench/tokenize.sh compares it with Hugging Face's
// tokenizers library on the same text in the same run.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/grow-ml/grow/tokens"
)

func main() {
	runs := flag.Int("runs", 5, "runs per mode (the best counts)")
	flag.Parse()
	if flag.NArg() != 2 {
		log.Fatal("usage: tokenize [-runs N] MODEL TEXTFILE")
	}
	e, err := tokens.Load(flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	raw, err := os.ReadFile(flag.Arg(1))
	if err != nil {
		log.Fatal(err)
	}
	text := string(raw)
	paras := strings.Split(text, "\n\n")
	for _, mode := range []string{"whole", "paragraphs"} {
		best := time.Duration(1 << 62)
		n := 0
		for range *runs {
			t0 := cpuTime()
			n = 0
			if mode == "whole" {
				n = len(e.Encode(text, true))
			} else {
				for _, p := range paras {
					n += len(e.Encode(p, true))
				}
			}
			best = min(best, cpuTime()-t0)
		}
		fmt.Printf("%s %d %.3f\n", mode, n, float64(len(raw))/best.Seconds()/1e6)
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
