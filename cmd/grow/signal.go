package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// run executes grow with args, prints any error on stderr and returns the exit
// status. SIGINT (Ctrl-C) or SIGTERM ends it with status 130: a write in
// progress removes its partial output first (writeModel); any other phase
// stops at once with a message saying what it stopped (interruptNote).
func run(args []string) int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go watchInterrupt(sig, os.Stderr, os.Exit)
	return runWith(args, os.Stdout, os.Stderr)
}

// runWith executes grow with args, prints any error on stderr and returns the
// exit status.
func runWith(args []string, stdout, stderr io.Writer) int {
	cmd, err := execute(args, stdout, stderr)
	if err != nil {
		report(stderr, cmd, err)
	}
	return exitCode(err)
}

// interrupt is what a SIGINT or SIGTERM stops, as the commands tell it.
var interrupt struct {
	sync.Mutex
	writing bool   // a write is in progress: it cleans up and returns errInterrupted
	note    string // printed when the signal stops anything else
	cleanup func() // run before the process exits on a signal (nil: nothing)
}

// interruptCleanup sets what an interrupt outside a write removes before the
// process exits (a staged output); nil removes nothing.
func interruptCleanup(f func()) {
	interrupt.Lock()
	defer interrupt.Unlock()
	interrupt.cleanup = f
}

// interruptNote sets the line an interrupt outside a write prints.
func interruptNote(note string) {
	interrupt.Lock()
	defer interrupt.Unlock()
	interrupt.note = note
}

// setWriting marks the start (true) and end (false) of a write that handles
// interrupts itself.
func setWriting(w bool) {
	interrupt.Lock()
	defer interrupt.Unlock()
	interrupt.writing = w
}

// watchInterrupt waits for a signal on sig; then, unless a write is in
// progress (which stops, cleans up and reports itself), it runs the cleanup,
// prints the note and exits with status 130.
func watchInterrupt(sig <-chan os.Signal, stderr io.Writer, exit func(int)) {
	<-sig
	interrupt.Lock()
	defer interrupt.Unlock()
	if interrupt.writing {
		return
	}
	if interrupt.cleanup != nil {
		interrupt.cleanup()
	}
	note := interrupt.note
	if note == "" {
		note = "grow: interrupted"
	}
	fmt.Fprintln(stderr, note)
	exit(exitInterrupted)
}
