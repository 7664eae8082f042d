package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"strconv"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/eval"
	"ladle/core/nn"
	"ladle/core/plan"
)

func init() {
	register(&command{
		name:    "align",
		args:    "A B [--arch ARCH.json] -o OUT.safetensors [--seed N] [--json]",
		summary: "permute B's hidden units to match A (Git Re-Basin weight matching); the result computes the same function as B",
		run:     runAlign,
	})
}

// alignKey is the metadata key under which `ladle align` and a recipe's
// `ladle: {align: true}` record what the alignment did (JSON).
const alignKey = "ladle.align"

func runAlign(ctx *cmdContext, args []string) error {
	fs := flag.NewFlagSet("align", flag.ContinueOnError)
	archPath := fs.String("arch", "", "architecture spec (ARCH.json); default: B's ladle.arch metadata, else A's")
	out := fs.String("o", "", "output safetensors file: B with its units permuted")
	seedFlag := fs.String("seed", "0", "seed of the order in which the permutation groups are visited")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(paths) != 2 {
		return usagef("want two checkpoints, A (the reference) and B (the model to align), got %d", len(paths))
	}
	if *out == "" {
		return usagef("no output: give -o OUT.safetensors")
	}
	seed, err := strconv.ParseUint(*seedFlag, 10, 64)
	if err != nil {
		return usagef("--seed must be a whole number from 0 to 2^64-1, not %q", *seedFlag)
	}
	if err := refuseInputAsOutput(*out, paths[0], paths[1], *archPath); err != nil {
		return err
	}
	a, err := ckpt.Open(paths[0])
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := ckpt.Open(paths[1])
	if err != nil {
		return err
	}
	defer b.Close()
	var arch *nn.Arch
	switch {
	case *archPath != "":
		arch, err = readArchFile(*archPath)
	default:
		if arch, err = nn.ArchOf(b); err != nil {
			arch, err = nn.ArchOf(a)
		}
	}
	if err != nil {
		return err
	}
	ta, err := nn.ReadTensors(arch, a)
	if err != nil {
		return err
	}
	tb, err := nn.ReadTensors(arch, b)
	if err != nil {
		return err
	}
	aligned, rep, err := eval.Align(arch, ta, tb, seed)
	if err != nil {
		return fmt.Errorf("aligning %s to %s: %w", paths[1], paths[0], err)
	}
	md := maps.Clone(b.Metadata())
	if md == nil {
		md = map[string]string{}
	}
	if _, ok := md[nn.MetadataKey]; !ok {
		md[nn.MetadataKey] = string(arch.JSON())
	}
	if _, ok := md["format"]; !ok {
		md["format"] = "pt"
	}
	record := *rep
	record.Groups = nil
	for _, g := range rep.Groups {
		g.Perm = nil
		record.Groups = append(record.Groups, g)
	}
	rec, err := json.Marshal(map[string]any{"reference": paths[0], "seed": seed, "report": record})
	if err != nil {
		return err
	}
	md[alignKey] = string(rec)
	if err := writeReplacing(*out, b, aligned, md); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(ctx.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(ctx.stdout, "wrote %s: %s aligned to %s\n", *out, paths[1], paths[0])
	printAlignReport(ctx.stdout, rep, "  ")
	return nil
}

func printAlignReport(w io.Writer, rep *eval.AlignReport, indent string) {
	fmt.Fprintf(w, "%s%d sweep(s); L2 distance to the reference %.6g → %.6g; Σ<A, π(B)> %.6g → %.6g\n",
		indent, rep.Sweeps, rep.DistanceBefore, rep.DistanceAfter, rep.ObjectiveBefore, rep.ObjectiveAfter)
	for _, g := range rep.Groups {
		fmt.Fprintf(w, "%s  %s: %d units, %d moved\n", indent, g.Layer, g.Size, g.Moved)
	}
	if len(rep.Groups) == 0 {
		fmt.Fprintf(w, "%s  nothing to permute: the architecture has no hidden layer\n", indent)
	}
}

// writeReplacing writes src to path with the float tensors of repl replaced (in
// their own dtype) and the given metadata; the file appears only when complete.
func writeReplacing(path string, src ckpt.Source, repl map[string]nn.Tensor, md map[string]string) error {
	return safetensors.WriteFile(path, src.Tensors(), md, func(w *safetensors.Writer) error { return plan.WriteReplacing(w, src, repl) })
}
