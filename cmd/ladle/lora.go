package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"ladle/core/ckpt"
	"ladle/core/lora"
	"ladle/core/plan"
)

func init() {
	register(&command{
		name:    "lora",
		args:    "extract BASE FINETUNED --rank R -o ADAPTER_DIR [--json]",
		summary: "extract a PEFT LoRA adapter from a fine-tune by truncated SVD (recipes apply one as model: BASE+ADAPTER_DIR)",
		run:     runLora,
	})
}

func runLora(ctx *cmdContext, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		args = []string{"extract", "-h"} // extract is the only subcommand: show its flags
	}
	if len(args) == 0 || args[0] != "extract" {
		return usagef("want a subcommand: extract")
	}
	fs := flag.NewFlagSet("lora extract", flag.ContinueOnError)
	rank := fs.Int("rank", 0, "the adapter's rank r (matrices of lower rank keep theirs, through rank_pattern)")
	out := fs.String("o", "", "the adapter folder to write (adapter_config.json + adapter_model.safetensors)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	paths, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(paths) != 2 {
		return usagef("want the base and the fine-tuned checkpoint, got %d path(s)", len(paths))
	}
	if *rank < 1 {
		return usagef("give the rank: --rank R (R >= 1)")
	}
	if *out == "" {
		return usagef("no output: give -o ADAPTER_DIR")
	}
	base, err := ckpt.Open(paths[0])
	if err != nil {
		return err
	}
	defer base.Close()
	ft, err := ckpt.Open(paths[1])
	if err != nil {
		return err
	}
	defer ft.Close()
	runCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := lora.Extract(runCtx, base, ft, *rank, *out, lora.ExtractOptions{BaseName: paths[0]})
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := json.MarshalIndent(map[string]any{"adapter": *out, "rank": rep.Rank, "tensors": rep.Tensors, "skipped": orEmpty(rep.Skipped)}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(ctx.stdout, string(b))
		return nil
	}
	fmt.Fprintf(ctx.stdout, "wrote %s: a rank-%d LoRA adapter of %d matrices (apply it with model: %s+%s)\n", *out, rep.Rank, len(rep.Tensors), paths[0], *out)
	fmt.Fprintf(ctx.stdout, "%-48s %5s %14s %14s\n", "tensor", "rank", "rel. error", "best possible")
	for _, t := range rep.Tensors {
		fmt.Fprintf(ctx.stdout, "%-48s %5d %14.3e %14.3e\n", ckpt.DisplayName(t.Name), t.Rank, t.RelError, t.Bound)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(ctx.stderr, "ladle lora extract: %s changed but is left out: %s\n", ckpt.DisplayName(s.Name), s.Why)
	}
	return nil
}

func orEmpty[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// openModel opens a checkpoint as ckpt.Open does, or BASE+ADAPTER_DIR with the PEFT
// adapter applied, so that inspect, eval and convert take what recipes take.
func openModel(path string) (ckpt.Source, error) { return plan.FileOpener("")(path) }
