package main

import (
	"flag"
	"fmt"
	"ladle/core/ckpt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"ladle/core/labs"
)

func init() {
	register(&command{
		name:    "labs",
		args:    "build [--out public/labs] [--lab NAME]...",
		summary: "train and write the bundled teaching labs (deterministic: the same bytes on any machine)",
		run:     runLabs,
	})
}

// labNames collects repeated --lab flags.
type labNames []string

func (l *labNames) String() string     { return strings.Join(*l, ",") }
func (l *labNames) Set(s string) error { *l = append(*l, s); return nil }

func runLabs(ctx *cmdContext, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: build")
	}
	if args[0] == "-h" || args[0] == "--help" {
		args = []string{"build", "-h"} // build is the only subcommand: show its flags
	}
	if args[0] != "build" {
		return usagef("unknown subcommand %q; want build", args[0])
	}
	fs := flag.NewFlagSet("labs build", flag.ContinueOnError)
	out := fs.String("out", filepath.Join("public", "labs"), "folder to write the labs into (one folder per lab, and index.json)")
	var only labNames
	fs.Var(&only, "lab", "build only this lab (repeatable); index.json still lists every lab")
	positional, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return usagef("unexpected argument %q", positional[0])
	}
	var names []string
	for _, e := range labs.All() {
		names = append(names, e.Name)
	}
	for _, n := range only {
		if !slices.Contains(names, n) {
			return usagef("no lab %q (labs: %s)", n, strings.Join(names, ", "))
		}
	}
	start := time.Now()
	built, err := labs.Build(*out, labs.Options{Only: only})
	if err != nil {
		return err
	}
	var total int64
	failed := 0
	for _, b := range built {
		total += b.Bytes
		fmt.Fprintf(ctx.stdout, "%s: wrote %d files (%s) to %s in %.1fs\n", b.Name, len(b.Files), ckpt.FormatBytes(b.Bytes),
			filepath.Join(*out, b.Name), b.Elapsed.Seconds())
		keys := make([]string, 0, len(b.Lab.Numbers))
		for k := range b.Lab.Numbers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(ctx.stdout, "  %-34s %v\n", k, b.Lab.Numbers[k])
		}
		for _, c := range b.Lab.Claims {
			mark := "holds:"
			if !c.Holds {
				mark = "DOES NOT HOLD:"
				failed++
			}
			fmt.Fprintf(ctx.stdout, "  %s %s\n", mark, c.Claim)
		}
	}
	fmt.Fprintf(ctx.stdout, "wrote %s: %d labs, %s in %.1fs\n", filepath.Join(*out, "index.json"), len(built), ckpt.FormatBytes(total), time.Since(start).Seconds())
	if failed > 0 {
		return fmt.Errorf("%d claims do not hold (see above); the labs were written anyway", failed)
	}
	return nil
}
