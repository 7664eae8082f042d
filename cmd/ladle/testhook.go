package main

import (
	"fmt"
	"os"
	"time"
)

// testPauseEnv names a duration (such as 300ms) that convert and merge wait after each
// tensor, first announcing the tensor on stderr. The crash-safety tests use it to
// send a signal, or to truncate an input, while an output is half written; unset, it
// costs one lookup per tensor.
const testPauseEnv = "LADLE_TEST_PAUSE"

var testPauseFor = func() time.Duration {
	d, _ := time.ParseDuration(os.Getenv(testPauseEnv))
	return d
}()

func testPause(tensor string) {
	if testPauseFor <= 0 {
		return
	}
	fmt.Fprintf(os.Stderr, "ladle-test: done %s\n", tensor)
	time.Sleep(testPauseFor)
}
