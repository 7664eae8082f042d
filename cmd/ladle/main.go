// Command ladle merges, inspects and converts neural-network checkpoints, and serves
// the browser playground. Run `ladle help` for the commands.
package main

import (
	"fmt"
	"os"

	"ladle/core/ckpt"
)

func main() {
	ckpt.StaleRemoved = func(path string) {
		fmt.Fprintf(os.Stderr, "note: removed %s, a partial output left by an interrupted run\n", path)
	}
	if len(os.Args) < 2 || os.Args[1] != "serve" { // serve shuts down gracefully itself
		cleanUpOnSignals(os.Stderr)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
