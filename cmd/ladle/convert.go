package main

import (
	"flag"
	"fmt"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
)

func init() {
	register(&command{
		name:    "convert",
		args:    "IN -o OUT.safetensors [--dtype F32|F16|BF16]",
		summary: "convert a checkpoint (PyTorch, GGUF, numpy, safetensors, sharded) to one safetensors file",
		run:     runConvert,
	})
}

func runConvert(ctx *cmdContext, args []string) error {
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	out := fs.String("o", "", "output safetensors file")
	dtypeName := fs.String("dtype", "", "convert floating-point tensors to F32, F16 or BF16 (default: keep each tensor's dtype)")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(paths) != 1 {
		return usagef("want one input checkpoint, got %d", len(paths))
	}
	if *out == "" {
		return usagef("no output: give -o OUT.safetensors")
	}
	to := dtype.Invalid
	if *dtypeName != "" {
		if to, err = dtype.ParseLoose(*dtypeName); err != nil {
			return usagef("--dtype: %v", err)
		}
		if to != dtype.F32 && to != dtype.F16 && to != dtype.BF16 {
			return usagef("--dtype must be F32, F16 or BF16, not %s", to)
		}
	}
	src, err := openModel(paths[0])
	if err != nil {
		return err
	}
	defer src.Close()
	return convert(src, *out, to)
}

// convert writes src to path as safetensors, tensor by tensor, converting floating-point
// tensors to `to` (Invalid keeps them). The file appears only when all of it is written.
func convert(src ckpt.Source, path string, to dtype.DType) error {
	infos := ckpt.ConvertedInfos(src.Tensors(), to)
	metadata := map[string]string{}
	for k, v := range src.Metadata() {
		metadata[k] = v
	}
	if _, ok := metadata["format"]; !ok {
		metadata["format"] = "pt" // what Hugging Face loaders expect of a PyTorch-origin file
	}
	return safetensors.WriteFile(path, infos, metadata, func(w *safetensors.Writer) error {
		for i, info := range src.Tensors() {
			r, err := src.Tensor(info.Name)
			if err != nil {
				return err
			}
			if err := w.BeginTensor(info.Name); err != nil {
				return err
			}
			if err := ckpt.ConvertTensor(w, r, info, infos[i].DType); err != nil {
				return fmt.Errorf("%s: %w", src.Path(), err)
			}
			testPause(info.Name)
		}
		return nil
	})
}
