package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"ladle/core/analyze"
	"ladle/core/ckpt"
	_ "ladle/core/ckpt/all"
)

func init() {
	register(&command{
		name:    "analyze",
		args:    "--base BASE MODEL... [--density D] [--json]",
		summary: "compare the task vectors (model − base) of fine-tunes: pairwise cosine similarity, per-tensor norms, sign conflicts and how much of each TIES keeps",
		run:     runAnalyze,
	})
}

func runAnalyze(ctx *cmdContext, args []string) error {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	basePath := fs.String("base", "", "the base checkpoint the models were fine-tuned from")
	density := fs.Float64("density", analyze.DefaultDensity, "TIES density for ties_agree: the fraction of each task vector's entries TIES keeps (0 to 1)")
	asJSON := fs.Bool("json", false, "print JSON")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *basePath == "" {
		return usagef("no base: give --base BASE")
	}
	if len(paths) == 0 {
		return usagef("give at least one model checkpoint besides the base")
	}
	if *density < 0 || *density > 1 || *density != *density {
		return usagef("--density %v is not a fraction from 0 to 1", *density)
	}
	open := func(path string) (analyze.Input, error) {
		src, err := ckpt.Open(path)
		return analyze.Input{Name: path, Source: src}, err
	}
	base, err := open(*basePath)
	if err != nil {
		return err
	}
	defer base.Source.Close()
	var models []analyze.Input
	for _, p := range paths {
		m, err := open(p)
		if err != nil {
			return err
		}
		defer m.Source.Close()
		models = append(models, m)
	}
	res, err := analyze.Analyze(context.Background(), base, models, analyze.Options{Density: *density})
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(ctx.stdout).Encode(res)
	}
	printAnalysis(ctx, res, *density)
	return nil
}

// printAnalysis writes the result as two tables: the cosine matrix, then per tensor.
func printAnalysis(ctx *cmdContext, res *analyze.Result, density float64) {
	w := ctx.stdout
	fmt.Fprintln(w, "Task vectors (model − base); cosine similarity over all shared floating tensors:")
	for i, name := range res.Models {
		fmt.Fprintf(w, "  [%d] %s\n", i+1, name)
	}
	fmt.Fprintf(w, "%6s", "")
	for i := range res.Models {
		fmt.Fprintf(w, " %7s", fmt.Sprintf("[%d]", i+1))
	}
	fmt.Fprintln(w)
	for i, row := range res.Cosine {
		fmt.Fprintf(w, "%6s", fmt.Sprintf("[%d]", i+1))
		for _, c := range row {
			fmt.Fprintf(w, " %7.3f", c)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nPer tensor: ‖δ‖ of each model, sign conflicts, and the share of each model's kept entries (TIES, density %g) that agree with the elected sign:\n", density)
	for _, t := range res.Tensors {
		norms := make([]string, len(t.Norms))
		agree := make([]string, len(t.TiesAgree))
		for i := range t.Norms {
			norms[i] = fmt.Sprintf("%.4g", t.Norms[i])
			agree[i] = fmt.Sprintf("%.1f%%", 100*t.TiesAgree[i])
		}
		fmt.Fprintf(w, "  %s: norms %s; sign conflict %.1f%%; TIES agree %s\n", ckpt.DisplayName(t.Name), strings.Join(norms, " "), 100*t.SignConflict, strings.Join(agree, " "))
	}
}
