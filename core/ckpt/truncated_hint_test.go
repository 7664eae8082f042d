package ckpt_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/ckpt"
	_ "ladle/core/ckpt/all"
)

// A truncated checkpoint, in every format, says so with what to do (get the file
// again), not only what the parser found wrong.
func TestTruncatedFilesSayWhatToDo(t *testing.T) {
	fixtures := filepath.Join("..", "..", "..", "shared", "fixtures")
	files := []string{"pytorch/burn-checkpoint.pt", "pytorch/burn-simple_legacy.pt", "gguf/llama-2-tiny-random.gguf", "candle/test.npz", "pytorch/burn-multi_layer.safetensors"}
	if _, err := os.Stat(fixtures); err != nil {
		t.Skip("no fixtures in ../shared/fixtures: ", err)
	}
	dir := t.TempDir()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(fixtures, f))
		if err != nil {
			t.Logf("skipping %s: %v", f, err)
			continue
		}
		path := filepath.Join(dir, filepath.Base(f))
		os.WriteFile(path, b[:len(b)*2/3], 0o644)
		src, err := ckpt.Open(path)
		if err == nil {
			for _, info := range src.Tensors() {
				if _, err = ckpt.ReadAll(src, info.Name); err != nil {
					break
				}
			}
			src.Close()
		}
		if err == nil {
			t.Errorf("%s: two thirds of the file read without an error", f)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, path) || !(strings.Contains(msg, "again") || strings.Contains(msg, "truncated")) {
			t.Errorf("%s: %q does not name the file and say what to do", f, msg)
		}
	}
}
