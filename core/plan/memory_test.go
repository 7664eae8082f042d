package plan

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/core/recipe"
)

// Streaming: a merge holds about (inputs + 1) x the largest tensor, however many
// tensors the checkpoints hold. Merging 4 inputs of 48 tensors of 1 MiB (192 MiB read),
// the live heap after each tensor must stay under (4 + 1) x 1 MiB x 2 + 8 MiB, and the
// memory allocated per tensor must not grow with the number of tensors.
func TestMergeMemoryIsBoundedByTheLargestTensor(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 192 MiB of checkpoints")
	}
	dir := t.TempDir()
	var tensors []testTensor
	for i := 0; i < 48; i++ {
		tensors = append(tensors, testTensor{fmt.Sprintf("layers.%d.weight", i), dtype.F32, []int64{512, 512}})
	}
	const largest = 512 * 512 * 4
	for i, name := range []string{"base.safetensors", "a.safetensors", "b.safetensors", "c.safetensors"} {
		writeModel(t, filepath.Join(dir, name), tensors, 1, uint64(i), 0.01)
	}
	for _, method := range []string{"linear", "ties", "dare_ties", "task_arithmetic"} {
		base, params := "base_model: base.safetensors\n", "parameters: {density: 0.3}\n"
		if method == "linear" {
			base = ""
		}
		if method == "linear" || method == "task_arithmetic" {
			params = ""
		}
		r, err := recipe.Parse([]byte("merge_method: "+method+"\n"+base+"models: [a.safetensors, b.safetensors, c.safetensors]\n"+params), "", dir)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Prepare(r, FileOpener(dir))
		if err != nil {
			t.Fatal(err)
		}
		w, _ := safetensors.NewWriter(io.Discard, p.OutputTensors(), nil)
		var before, ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var peak uint64
		var perTensor []uint64
		last := before.TotalAlloc
		err = p.Execute(context.Background(), w, Options{Threads: 2, Progress: func(Progress) {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc-min(ms.HeapAlloc, before.HeapAlloc))
			perTensor = append(perTensor, ms.TotalAlloc-last)
			last = ms.TotalAlloc
		}})
		if err != nil {
			t.Fatal(err)
		}
		read := p.BytesTotal()
		p.Close()
		bound := uint64(largest*(4+1)*2 + 8<<20)
		if peak > bound {
			t.Errorf("%s: %d MiB live while merging %d MiB; the bound is %d MiB", method, peak>>20, read>>20, bound>>20)
		}
		// After the first tensors sized the two buffer sets of the read-ahead, each
		// tensor allocates at most about one tensor's worth of scratch (the methods'
		// temporary masks and orders).
		for i, a := range perTensor[3:] {
			if a > 2*largest {
				t.Errorf("%s: tensor %d allocated %d KiB", method, i+3, a>>10)
				break
			}
		}
		t.Logf("%s: %.1f MiB live at most to merge %d MiB of inputs", method, float64(peak)/(1<<20), read>>20)
	}
}
