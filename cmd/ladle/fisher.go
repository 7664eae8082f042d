package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"strconv"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/core/eval"
	"ladle/core/nn"
)

func init() {
	register(&command{
		name:    "fisher",
		args:    "MODEL [--arch ARCH.json] --data DATA.safetensors -o OUT.safetensors [--samples N] [--split NAME] [--seed N] [--threads N]",
		summary: "compute a model's diagonal Fisher information: the companion checkpoint of the fisher merge method",
		run:     runFisher,
	})
}

// fisherKey is the metadata key recording how a Fisher checkpoint was made (JSON).
const fisherKey = "ladle.fisher"

// fisherRecord is what fisherKey holds.
type fisherRecord struct {
	Model   string `json:"model"`
	Data    string `json:"data"`
	Split   string `json:"split,omitempty"`
	Samples int    `json:"samples"`
	Seed    uint64 `json:"seed"`
	Labels  string `json:"labels"`
}

func runFisher(ctx *cmdContext, args []string) error {
	fs := flag.NewFlagSet("fisher", flag.ContinueOnError)
	archPath := fs.String("arch", "", "architecture spec (ARCH.json); default: the checkpoint's ladle.arch metadata")
	data := fs.String("data", "", "dataset: a safetensors file with x and y (see ladle data); its labels are not used")
	split := fs.String("split", "", "which split of the dataset (tensors x.NAME and y.NAME); default x and y")
	out := fs.String("o", "", "output safetensors file: one Fisher tensor per model tensor")
	samples := fs.Int("samples", 0, "use this many samples, drawn with the seed (0: all)")
	seedFlag := fs.String("seed", "0", "seed of the labels drawn from the model's predictions (and of the subset)")
	threads := fs.Int("threads", 0, "goroutines (0: one per core); the output does not depend on it")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(paths) != 1 {
		return usagef("want one model checkpoint, got %d", len(paths))
	}
	if *data == "" {
		return usagef("no dataset: give --data DATA.safetensors")
	}
	if *out == "" {
		return usagef("no output: give -o OUT.safetensors")
	}
	if err := checkThreads(*threads); err != nil {
		return err
	}
	if *samples < 0 {
		return usagef("--samples must be 0 or more")
	}
	seed, err := strconv.ParseUint(*seedFlag, 10, 64)
	if err != nil {
		return usagef("--seed must be a whole number from 0 to 2^64-1, not %q", *seedFlag)
	}
	if err := refuseInputAsOutput(*out, paths[0], *data, *archPath); err != nil {
		return err
	}
	src, err := ckpt.Open(paths[0])
	if err != nil {
		return err
	}
	defer src.Close()
	var arch *nn.Arch
	if *archPath != "" {
		arch, err = readArchFile(*archPath)
	} else {
		arch, err = nn.ArchOf(src)
	}
	if err != nil {
		return err
	}
	m, err := nn.Load(arch, src)
	if err != nil {
		return err
	}
	d, err := eval.LoadSplit(*data, *split)
	if err != nil {
		return err
	}
	f, err := eval.Fisher(m, d, eval.FisherOptions{Samples: *samples, Seed: seed, Threads: *threads})
	if err != nil {
		return fmt.Errorf("%s: %w", paths[0], err)
	}
	n := d.Len()
	if *samples > 0 && *samples < n {
		n = *samples
	}
	rec, err := json.Marshal(fisherRecord{Model: paths[0], Data: *data, Split: *split, Samples: n, Seed: seed,
		Labels: "sampled from the model's predictive distribution"})
	if err != nil {
		return err
	}
	if err := writeFisher(*out, src, f, map[string]string{"format": "pt", fisherKey: string(rec)}); err != nil {
		return err
	}
	fmt.Fprintf(ctx.stdout, "wrote %s: diagonal Fisher of %s over %d sample(s) of %s, seed %d\n", *out, paths[0], n, *data, seed)
	return nil
}

// writeFisher writes a checkpoint with src's tensor names and shapes, in src's order:
// F32 Fisher values for the float tensors (zeros for those the arch does not read),
// and zeros of the same dtype for integer tensors (such as num_batches_tracked), so
// that the file is a valid `fisher:` companion of the model.
func writeFisher(path string, src ckpt.Source, f map[string]nn.Tensor, md map[string]string) error {
	infos := make([]ckpt.Info, len(src.Tensors()))
	for i, t := range src.Tensors() {
		infos[i] = t
		if t.DType.IsFloat() {
			infos[i].DType = dtype.F32
		}
	}
	return safetensors.WriteFile(path, infos, md, func(w *safetensors.Writer) error {
		for _, info := range infos {
			b := make([]byte, info.Bytes())
			if t, ok := f[info.Name]; ok && info.DType == dtype.F32 {
				if int64(len(t.Data)) != info.NumElements() {
					return fmt.Errorf("tensor %q: %d Fisher values for %d elements", info.Name, len(t.Data), info.NumElements())
				}
				if err := dtype.EncodeF32(b, t.Data, dtype.F32); err != nil {
					return err
				}
			}
			if err := w.WriteTensor(info.Name, b); err != nil {
				return err
			}
		}
		return nil
	})
}
