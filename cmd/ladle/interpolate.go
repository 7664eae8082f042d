package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"

	"ladle/core/eval"
)

func init() {
	register(&command{
		name:    "interpolate",
		args:    "A B [--arch ARCH.json] --data DATA.safetensors [--points 21] [--split NAME] [--batch N] [--threads N] [--json]",
		summary: "evaluate the models on the straight line from A to B and report the loss barrier",
		run:     runInterpolate,
	})
}

func runInterpolate(ctx *cmdContext, args []string) error {
	fs := flag.NewFlagSet("interpolate", flag.ContinueOnError)
	f := addEvalFlags(fs)
	points := fs.Int("points", 21, fmt.Sprintf("points on the path, both ends included (at least %d)", eval.MinPoints))
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(paths) != 2 {
		return usagef("want two model checkpoints A and B, got %d", len(paths))
	}
	if err := f.check(); err != nil {
		return err
	}
	if *points < eval.MinPoints {
		return usagef("--points must be at least %d (METHODS.md: a grid of at least 11 points with both ends)", eval.MinPoints)
	}
	// B is read with A's arch unless --arch is given.
	arch, a, err := loadForEval(paths[0], *f.arch, nil)
	if err != nil {
		return err
	}
	_, b, err := loadForEval(paths[1], "", arch)
	if err != nil {
		return err
	}
	data, err := eval.LoadSplit(*f.data, *f.split)
	if err != nil {
		return err
	}
	curve, err := eval.Interpolate(arch, a, b, data, eval.Options{Points: *points, Batch: *f.batch, Threads: *f.threads, Exact: true})
	if err != nil {
		return fmt.Errorf("%s → %s: %w", paths[0], paths[1], err)
	}
	if *f.json {
		return json.NewEncoder(ctx.stdout).Encode(curve)
	}
	tw := tabwriter.NewWriter(ctx.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "alpha\tloss\taccuracy\t")
	for _, p := range curve.Points {
		fmt.Fprintf(tw, "%.3f\t%.5f\t%.4f\t\n", p.Alpha, p.Loss, p.Accuracy)
	}
	tw.Flush()
	fmt.Fprintf(ctx.stdout, "loss barrier %.5f at alpha %.3f (0 = A: %s, 1 = B: %s)\n", curve.Barrier, curve.BarrierAlpha, paths[0], paths[1])
	return nil
}
