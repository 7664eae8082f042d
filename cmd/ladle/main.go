// Command ladle merges, inspects and converts neural-network checkpoints, and serves
// the browser playground. Run `ladle help` for the commands.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
