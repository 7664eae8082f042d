package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"ladle/core/ckpt"
	"ladle/core/eval"
)

func init() {
	register(&command{
		name: "data",
		args: "import-idx IMAGES.gz LABELS.gz -o DATA.safetensors [--split NAME]\n" +
			"       ladle data import-csv FILE.csv --label-column N -o DATA.safetensors [--split NAME]",
		summary: "import a dataset (MNIST-style IDX files or a CSV table) into a safetensors file with x and y",
		run:     runData,
	})
}

func runData(ctx *cmdContext, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: import-idx or import-csv")
	}
	switch args[0] {
	case "import-idx":
		return runImportIDX(ctx, args[1:])
	case "import-csv":
		return runImportCSV(ctx, args[1:])
	case "-h", "--help", "help":
		return flag.ErrHelp
	}
	return usagef("unknown subcommand %q: want import-idx or import-csv", args[0])
}

func runImportIDX(ctx *cmdContext, args []string) error {
	fset := flag.NewFlagSet("data import-idx", flag.ContinueOnError)
	out := fset.String("o", "", "output dataset (safetensors)")
	split := fset.String("split", "", "store as split NAME (tensors x.NAME, y.NAME), keeping the other splits of an existing output")
	paths, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(paths) != 2 {
		return usagef("want the images file and the labels file, got %d file(s)", len(paths))
	}
	if *out == "" {
		return usagef("no output: give -o DATA.safetensors")
	}
	if err := refuseInputAsOutput(*out, paths...); err != nil {
		return err
	}
	images, _, err := ckpt.OpenInput(paths[0])
	if err != nil {
		return err
	}
	defer images.Close()
	labels, _, err := ckpt.OpenInput(paths[1])
	if err != nil {
		return err
	}
	defer labels.Close()
	d, err := eval.ImportIDX(images, labels)
	if err != nil {
		return fmt.Errorf("%s, %s: %w", paths[0], paths[1], err)
	}
	return writeDataset(ctx, *out, *split, d)
}

func runImportCSV(ctx *cmdContext, args []string) error {
	fset := flag.NewFlagSet("data import-csv", flag.ContinueOnError)
	out := fset.String("o", "", "output dataset (safetensors)")
	split := fset.String("split", "", "store as split NAME (tensors x.NAME, y.NAME), keeping the other splits of an existing output")
	labelCol, haveLabel := 0, false
	fset.Func("label-column", "column of the labels, counted from 0 (−1: the last)", func(s string) error {
		v, err := strconv.Atoi(s)
		labelCol, haveLabel = v, true
		return err
	})
	paths, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(paths) != 1 {
		return usagef("want one CSV file, got %d", len(paths))
	}
	if !haveLabel {
		return usagef("say which column holds the labels: --label-column N (0 is the first, -1 the last)")
	}
	if *out == "" {
		return usagef("no output: give -o DATA.safetensors")
	}
	if err := refuseInputAsOutput(*out, paths...); err != nil {
		return err
	}
	f, _, err := ckpt.OpenInput(paths[0])
	if err != nil {
		return err
	}
	defer f.Close()
	d, err := eval.ImportCSV(f, labelCol)
	if err != nil {
		return fmt.Errorf("%s: %w", paths[0], err)
	}
	return writeDataset(ctx, *out, *split, d)
}

// writeDataset writes d as the given split of path. When path already holds a
// dataset, its other splits are kept; the file is replaced only once complete.
func writeDataset(ctx *cmdContext, path, split string, d *eval.Dataset) error {
	if strings.ContainsAny(split, " \t\n") {
		return usagef("--split %q: a split name has no spaces", split)
	}
	d.Split = split
	sets := []*eval.Dataset{d}
	if split != "" {
		others, err := otherSplits(path, split)
		if err != nil {
			return err
		}
		sets = append(others, d)
	}
	if err := eval.WriteFile(path, sets...); err != nil {
		return err
	}
	kind := "F32"
	if d.U8 != nil {
		kind = "U8"
	}
	classes := 0
	for _, y := range d.Labels {
		classes = max(classes, y+1)
	}
	name := "default split"
	if split != "" {
		name = "split " + split
	}
	fmt.Fprintf(ctx.stdout, "%s (%s): %d samples of shape %v (%s), labels 0 to %d\n", path, name, d.Len(), d.Shape, kind, classes-1)
	return nil
}

// otherSplits reads every split of an existing dataset file except the one being
// replaced; none when the file does not exist.
func otherSplits(path, except string) ([]*eval.Dataset, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	src, err := ckpt.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s exists and is not a dataset Ladle can add a split to: %w", path, err)
	}
	defer src.Close()
	var out []*eval.Dataset
	for _, s := range eval.Splits(src) {
		if s == except {
			continue
		}
		d, err := eval.FromSource(src, s)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
