package plan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/core/recipe"
)

// failAfter is an io.Writer that fails once it has taken n bytes, like a full disk.
type failAfter struct{ n int }

var errDiskFull = errors.New("no space left on device")

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		w := f.n
		f.n = 0
		return w, errDiskFull
	}
	f.n -= len(p)
	return len(p), nil
}

// A write that fails on the write-behind goroutine (more than one thread) stops the
// merge with that error, whichever tensor it hits, and Execute returns without leaving
// a goroutine writing.
func TestWriteBehindFailureStopsTheMerge(t *testing.T) {
	dir, _, _ := fineTunes(t)
	r, err := recipe.Parse([]byte("merge_method: linear\nmodels: [a.safetensors, b.safetensors, c.safetensors]\n"), "recipe.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(r, FileOpener(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	header, err := safetensors.EncodeHeader(p.OutputTensors(), nil)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, t := range p.OutputTensors() {
		total += int(t.Bytes())
	}
	for _, after := range []int{0, 100, total / 2, total - 1} {
		for _, threads := range []int{1, 2, 4} {
			w, err := safetensors.NewWriter(&failAfter{n: 8 + len(header) + after}, p.OutputTensors(), nil)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Execute(context.Background(), w, Options{Threads: threads})
			if !errors.Is(err, errDiskFull) && (err == nil || !strings.Contains(err.Error(), "no space left")) {
				t.Errorf("fail after %d bytes, %d threads: got %v, want the write's error", after, threads, err)
			}
		}
	}
}

// An input truncated while the merge holds it memory-mapped ends the merge with a
// FormatError naming that file and the tensor (the fault is recovered, not a SIGBUS
// crash), with one thread or several.
func TestInputTruncatedWhileMapped(t *testing.T) {
	var tensors []testTensor
	for i := 0; i < 6; i++ {
		tensors = append(tensors, testTensor{fmt.Sprintf("layers.%d.weight", i), dtype.F32, []int64{256, 1024}})
	}
	for _, threads := range []int{1, 3} {
		dir := t.TempDir()
		writeModel(t, filepath.Join(dir, "a.safetensors"), tensors, 1, 1, 0.01)
		b := filepath.Join(dir, "b.safetensors")
		writeModel(t, b, tensors, 1, 2, 0.01)
		r, err := recipe.Parse([]byte("merge_method: linear\nmodels: [a.safetensors, b.safetensors]\n"), "recipe.yaml", dir)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Prepare(r, FileOpener(dir))
		if err != nil {
			t.Fatal(err)
		}
		w, _ := safetensors.NewWriter(io.Discard, p.OutputTensors(), nil)
		err = p.Execute(context.Background(), w, Options{Threads: threads, Progress: func(pr Progress) {
			if pr.TensorsDone == 1 {
				time.Sleep(50 * time.Millisecond) // let the read-ahead map the next tensors
				if err := os.Truncate(b, 4096); err != nil {
					t.Error(err)
				}
			}
		}})
		p.Close()
		t.Logf("%d threads: %v", threads, err)
		var fe *ckpt.FormatError
		if !errors.As(err, &fe) || fe.File != b || !strings.HasPrefix(fe.Tensor, "layers.") {
			t.Errorf("%d threads: got %v, want a FormatError naming %s and a tensor", threads, err, b)
		}
	}
}

// Threads far beyond the cores cost nothing: Execute caps them (and the methods
// allocate scratch for no more workers than chunks), with the same bytes.
func TestHugeThreadCountsAreCapped(t *testing.T) {
	dir, _, _ := fineTunes(t)
	yaml := "merge_method: ties\nbase_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]\nparameters: {density: 0.5}\n"
	one := mergeToBytes(t, dir, yaml, Options{Threads: 1})
	if huge := mergeToBytes(t, dir, yaml, Options{Threads: 1 << 30}); !bytes.Equal(one, huge) {
		t.Error("2^30 threads gave other bytes")
	}
	if huge := mergeToBytes(t, dir, yaml+"ladle: {threads: 1000000000}\n", Options{}); !bytes.Equal(stripRecipe(t, one), stripRecipe(t, huge)) {
		t.Error("ladle.threads 10^9 gave other bytes")
	}
}
