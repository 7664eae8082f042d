package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"ladle/core/ckpt"
)

// cleanUpOnSignals makes SIGINT (Ctrl-C), SIGTERM and SIGHUP (a closed terminal) end
// the command without leaving partial outputs: the handler deletes every partial
// file still being written and any output folder this run created (ckpt.RemovePartials,
// which also stops any later output from starting or being committed), says so, and
// exits with 128 + the signal's number, as a shell reports a death by that signal.
// It does not wait for the command to notice: a write blocked on a slow disk or a
// merge in the middle of a huge tensor must not keep a partial file alive.
func cleanUpOnSignals(stderr io.Writer) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-c
		removed := ckpt.RemovePartials()
		signalCleanups.Lock()
		for _, f := range signalCleanups.fns {
			f()
		}
		name := map[os.Signal]string{os.Interrupt: "SIGINT", syscall.SIGTERM: "SIGTERM", syscall.SIGHUP: "SIGHUP"}[sig]
		switch {
		case len(removed) > 0:
			fmt.Fprintf(stderr, "\nladle: stopped by %s; removed the unfinished output (%s)\n", name, strings.Join(removed, ", "))
		default:
			fmt.Fprintf(stderr, "\nladle: stopped by %s\n", name)
		}
		code := 1
		if s, ok := sig.(syscall.Signal); ok {
			code = 128 + int(s)
		}
		os.Exit(code)
	}()
}

// signalCleanups are what commands ask the signal handler to undo besides partial
// outputs (bench's folder of generated checkpoints). The handler holds the lock until
// the process exits.
var signalCleanups struct {
	sync.Mutex
	fns []func()
}

// onSignal registers a cleanup for the signal handler.
func onSignal(f func()) {
	signalCleanups.Lock()
	defer signalCleanups.Unlock()
	signalCleanups.fns = append(signalCleanups.fns, f)
}
