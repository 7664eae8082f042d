package main

import "flag"

type testFlags struct {
	set  *flag.FlagSet
	json *bool
}

func newTestFlagSet() testFlags {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	return testFlags{set: fs, json: fs.Bool("json", false, "")}
}
