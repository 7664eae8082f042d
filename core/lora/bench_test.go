package lora_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
	"ladle/core/lora"
)

// BenchmarkApply reads a 2048 x 2048 matrix with a LoRA adapter applied, at ranks 8
// to 64 (bytes: the adapted F32 tensor).
func BenchmarkApply(b *testing.B) {
	for _, r := range []int{8, 16, 64} {
		b.Run(fmt.Sprintf("r%d", r), func(b *testing.B) {
			dir := b.TempDir()
			writeST(b, filepath.Join(dir, "base.safetensors"), random("proj.weight", dtype.BF16, 1, 1, 2048, 2048))
			p := lora.KeyPrefix + "proj"
			writeAdapter(b, filepath.Join(dir, "adapter"), peftConfig(r, 2*float64(r), nil), false,
				random(p+".lora_A.weight", dtype.F32, 2, 0.1, int64(r), 2048), random(p+".lora_B.weight", dtype.F32, 3, 0.1, 2048, int64(r)))
			src, err := opener(dir)("base.safetensors+adapter")
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			b.SetBytes(2048 * 2048 * 4)
			for b.Loop() {
				if _, err := ckpt.ReadAll(src, "proj.weight"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
