package plan

import (
	"context"
	"errors"
	"strings"
	"testing"

	"ladle/core/ckpt/safetensors"
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
