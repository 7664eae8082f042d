// Command gen writes registry.json, the merge registry's description (go generate
// ./core/merge/info).
package main

import (
	"fmt"
	"os"

	"ladle/core/merge"
)

func main() {
	data, err := merge.DescribeJSON()
	if err == nil {
		err = os.WriteFile("registry.json", data, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
