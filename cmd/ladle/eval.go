package main

import (
	"encoding/json"
	"flag"
	"fmt"

	"ladle/core/ckpt"
	_ "ladle/core/ckpt/all"
	"ladle/core/eval"
	"ladle/core/nn"
)

func init() {
	register(&command{
		name:    "eval",
		args:    "MODEL [--arch ARCH.json] --data DATA.safetensors [--split test|val|NAME] [--batch N] [--threads N] [--fast] [--json]",
		summary: "measure a model's accuracy and loss on a dataset (--arch may be left out when the checkpoint carries ladle.arch)",
		run:     runEval,
	})
}

// evalFlags are the flags eval and interpolate share.
type evalFlags struct {
	arch, data, split *string
	batch, threads    *int
	json              *bool
}

func addEvalFlags(fs *flag.FlagSet) evalFlags {
	return evalFlags{
		arch:    fs.String("arch", "", "architecture spec (ARCH.json); default: the checkpoint's ladle.arch metadata"),
		data:    fs.String("data", "", "dataset: a safetensors file with x and y (see ladle data)"),
		split:   fs.String("split", "", "which split of the dataset: NAME reads tensors x.NAME and y.NAME; test (or none) reads x and y"),
		batch:   fs.Int("batch", eval.DefaultBatch, "samples per forward pass"),
		threads: fs.Int("threads", 0, "goroutines per forward pass (0: one per core)"),
		json:    fs.Bool("json", false, "print JSON"),
	}
}

func (f evalFlags) check() error {
	if *f.data == "" {
		return usagef("no dataset: give --data DATA.safetensors")
	}
	if *f.batch <= 0 {
		return usagef("--batch must be positive")
	}
	return checkThreads(*f.threads)
}

func runEval(ctx *cmdContext, args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	f := addEvalFlags(fs)
	fast := fs.Bool("fast", false, "use the CPU's fastest kernels (AVX/FMA on amd64): quicker, but the last digits may then differ from other machines and from the playground, which compute exactly (nn exact mode)")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(paths) != 1 {
		return usagef("want one model checkpoint, got %d", len(paths))
	}
	if err := f.check(); err != nil {
		return err
	}
	arch, tensors, err := loadForEval(paths[0], *f.arch, nil)
	if err != nil {
		return err
	}
	m, err := nn.NewModel(arch, tensors)
	if err != nil {
		return fmt.Errorf("%s: %w", paths[0], err)
	}
	m.SetThreads(*f.threads)
	m.SetExact(!*fast)
	data, err := eval.LoadSplit(*f.data, *f.split)
	if err != nil {
		return err
	}
	r, err := eval.Evaluate(m, data, *f.batch)
	if err != nil {
		return err
	}
	if *f.json {
		return json.NewEncoder(ctx.stdout).Encode(r)
	}
	fmt.Fprintf(ctx.stdout, "%s: accuracy %.4f (%d/%d correct), mean loss %.5f (negative log-likelihood; the model outputs %s)\n",
		paths[0], r.Accuracy, r.Correct, r.N, r.Loss, m.OutputKind())
	return nil
}

// loadForEval reads a checkpoint's tensors for an arch: the one in archPath, else
// fallback (when not nil), else the checkpoint's own ladle.arch metadata.
func loadForEval(path, archPath string, fallback *nn.Arch) (*nn.Arch, map[string]nn.Tensor, error) {
	src, err := openModel(path)
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()
	arch := fallback
	switch {
	case archPath != "":
		if arch, err = readArchFile(archPath); err != nil {
			return nil, nil, err
		}
	case arch == nil:
		if arch, err = nn.ArchOf(src); err != nil {
			return nil, nil, err
		}
	}
	tensors, err := nn.ReadTensors(arch, src)
	if err != nil {
		return nil, nil, err
	}
	return arch, tensors, nil
}

func readArchFile(path string) (*nn.Arch, error) {
	b, err := ckpt.ReadInputFile(path)
	if err != nil {
		return nil, err
	}
	a, err := nn.ParseArch(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}
