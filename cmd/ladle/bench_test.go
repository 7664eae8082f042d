package main

import (
	"strings"
	"testing"
)

// ladle bench runs real merges (this test binary re-executed as ladle) and prints
// the medians of its runs and the share of memcpy's bandwidth they reach.
func TestBenchPrintsMediansAndBandwidthShare(t *testing.T) {
	t.Setenv(asLadleEnv, "1") // the merges bench starts are this binary
	var stdout, stderr strings.Builder
	if code := run([]string{"bench", "--size", "2MB", "--tensor", "512KB", "--models", "2", "--methods", "linear,ties", "--runs", "3", "--dir", t.TempDir()}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"medians of 3 runs", "memcpy on this machine:", "ladle linear", "ladle ties", "% of memcpy's"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	var stderr2 strings.Builder
	if code := run([]string{"bench", "--runs", "0"}, &stdout, &stderr2); code != 2 {
		t.Errorf("--runs 0: exit %d", code)
	}
}
