package lora_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
	"ladle/core/lora"
)

// FuzzAdapter: no adapter folder (config and weights bytes) makes opening it, applying
// it to a base or reading the adapted tensors panic; every failure is an error.
func FuzzAdapter(f *testing.F) {
	dir := f.TempDir()
	p := lora.KeyPrefix
	a := random(p+"fc1.lora_A.weight", dtype.F32, 2, 0.5, 2, 5)
	b := random(p+"fc1.lora_B.weight", dtype.BF16, 2, 0.5, 7, 2)
	writeAdapter(f, filepath.Join(dir, "st"), peftConfig(2, 4, nil), false, a, b)
	writeAdapter(f, filepath.Join(dir, "fifo"), peftConfig(2, 4, map[string]any{"fan_in_fan_out": true, "use_rslora": true}), false,
		random(p+"fc1.lora_A.weight", dtype.F32, 2, 0.5, 2, 7), random(p+"fc1.lora_B.weight", dtype.F32, 2, 0.5, 5, 2))
	for _, d := range []string{"st", "fifo"} {
		cfg, _ := os.ReadFile(filepath.Join(dir, d, lora.ConfigFile))
		w, _ := os.ReadFile(filepath.Join(dir, d, lora.WeightsFile))
		f.Add(cfg, w)
	}
	f.Add(peftConfig(2, 4, nil), torchZip([]mat{a, b}))
	baseFile := filepath.Join(dir, "base.safetensors")
	writeST(f, baseFile, random("fc1.weight", dtype.F32, 1, 1, 7, 5), random("fc1.bias", dtype.F32, 1, 1, 7))
	baseBytes, err := os.ReadFile(baseFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, config, weights []byte) {
		files := map[string][]byte{"base.safetensors": baseBytes, "ad/adapter_config.json": config, "ad/adapter_model.safetensors": weights}
		open := func(name string) (ckpt.Source, error) {
			b, ok := files[name]
			if !ok {
				return nil, &ckpt.NotExistError{Path: name}
			}
			return ckpt.OpenReaderAt(bytes.NewReader(b), int64(len(b)), name)
		}
		read := func(name string) ([]byte, error) {
			b, ok := files[name]
			if !ok {
				return nil, fs.ErrNotExist
			}
			return b, nil
		}
		src, err := lora.Opener(open, read)("base.safetensors+ad")
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("the folder holds its files, yet: %v", err)
			}
			return
		}
		defer src.Close()
		for _, info := range src.Tensors() {
			r, err := src.Tensor(info.Name)
			if err != nil {
				continue
			}
			buf := make([]byte, r.Size())
			if _, err := r.ReadAt(buf, 0); err != nil && err != io.EOF {
				continue
			}
		}
	})
}
