package pytorch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

// childEnv names the test a child process runs (see inChild).
const childEnv = "LADLE_PYTORCH_CHILD"

// childRan is printed by a child that ran its test, so that a pattern that
// matched nothing does not pass for a success.
const childRan = "inChild: ran "

// inChild runs fn in a child test process whose heap may not grow past limit
// bytes and which must finish within timeout. The hostile files of issue 12
// exhausted memory (the process died) or ran for minutes; run in a child, a
// regression fails this test instead of killing or stalling the whole run.
func inChild(t *testing.T, limit uint64, timeout time.Duration, fn func(t *testing.T)) {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		stop := watchHeap(limit)
		defer stop()
		fn(t)
		fmt.Println(childRan + t.Name())
		return
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+strings.Join(parts, "/"), "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	switch {
	case ctx.Err() != nil:
		t.Fatalf("did not finish within %v:\n%s", timeout, tail(out))
	case err != nil:
		t.Fatalf("%v:\n%s", err, tail(out))
	case !bytes.Contains(out, []byte(childRan+t.Name())):
		t.Fatalf("the child process did not run the test:\n%s", tail(out))
	}
}

// watchHeap ends the process when its heap passes limit bytes; stop ends the
// watch.
func watchHeap(limit uint64) (stop func()) {
	done := make(chan struct{})
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if heap := sample[0].Value.Uint64(); heap > limit {
				fmt.Fprintf(os.Stderr, "heap reached %d MiB, past the %d MiB allowed\n", heap>>20, limit>>20)
				os.Exit(3)
			}
		}
	}()
	return func() { close(done) }
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
