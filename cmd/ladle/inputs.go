package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"ladle/core/ckpt"
	"ladle/core/lora"
	"ladle/core/plan"
)

// refuseInputAsOutput refuses an output path that names one of the command's inputs
// (the same file or folder, however the path is spelt): the output would replace it.
// Atomic writing keeps the input whole until the end, and then it is gone for good.
func refuseInputAsOutput(out string, inputs ...string) error {
	fo, err := os.Stat(out)
	if err != nil {
		return nil // nothing there yet (or nothing we could replace)
	}
	for _, in := range inputs {
		if fi, err := os.Stat(in); err == nil && os.SameFile(fo, fi) {
			return fmt.Errorf("%s is one of the inputs (%s): writing the output there would replace it; choose another output path", out, in)
		}
	}
	return nil
}

// inputRecorder opens a recipe's checkpoints and files as plan.FileOpener and
// plan.FileReader do, and remembers every path it was asked for, so that the command
// can refuse an output path that names one of them.
type inputRecorder struct {
	dir   string
	mu    sync.Mutex
	paths []string
}

func (r *inputRecorder) resolve(path string) string {
	if !filepath.IsAbs(path) && r.dir != "" {
		path = filepath.Join(r.dir, path)
	}
	r.mu.Lock()
	r.paths = append(r.paths, path)
	r.mu.Unlock()
	return path
}

func (r *inputRecorder) read(path string) ([]byte, error) {
	return ckpt.ReadInputFile(r.resolve(path))
}

func (r *inputRecorder) opener() plan.Opener {
	return lora.Opener(func(path string) (ckpt.Source, error) { return ckpt.Open(r.resolve(path)) }, r.read)
}

// inputs returns the paths asked for so far.
func (r *inputRecorder) inputs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.paths...)
}
