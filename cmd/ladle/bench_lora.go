package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/core/lora"
)

// benchLoRA times task arithmetic over models given as the base with a rank-r LoRA
// adapter each (model: base+adapterI): every adapted tensor is computed as W + s·B·A
// while the merge reads it. The input counted is the adapted models' bytes.
func benchLoRA(ctx *cmdContext, work string, models, rank, threads, runs int, size, tensorSize int64) error {
	// Square matrices, as the projections LoRA adapts are (the other benchmarks'
	// tensors are long rows).
	side := max(64, int64(math.Sqrt(float64(tensorSize/4)))/64*64)
	largest := side * side * 4
	count := max(1, size/largest)
	size = count * largest
	var infos []ckpt.Info
	for i := int64(0); i < count; i++ {
		infos = append(infos, ckpt.Info{Name: fmt.Sprintf("layers.%d.proj.weight", i), DType: dtype.F32, Shape: []int64{side, side}})
	}
	rng := rand.New(rand.NewPCG(1, 1))
	err := safetensors.WriteFile(filepath.Join(work, "lora-base.safetensors"), infos, map[string]string{"format": "pt"}, func(w *safetensors.Writer) error {
		b := make([]byte, largest)
		for _, info := range infos {
			for i := 0; i < len(b); i += 4 {
				binary.LittleEndian.PutUint32(b[i:], math.Float32bits(float32(rng.NormFloat64()*0.02)))
			}
			if err := w.WriteTensor(info.Name, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	base, err := ckpt.Open(filepath.Join(work, "lora-base.safetensors"))
	if err != nil {
		return err
	}
	defer base.Close()
	var refs []string
	for i := 0; i < models; i++ {
		dir := filepath.Join(work, fmt.Sprintf("adapter%d", i))
		if err := generateAdapter(dir, base, rank, uint64(i)); err != nil {
			return err
		}
		refs = append(refs, "lora-base.safetensors+"+filepath.Base(dir))
	}
	recipePath := filepath.Join(work, "lora.yaml")
	text := "merge_method: task_arithmetic\nbase_model: lora-base.safetensors\nmodels: [" + strings.Join(refs, ", ") + "]\n"
	if err := os.WriteFile(recipePath, []byte(text), 0o644); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	out := filepath.Join(work, "lora.out.safetensors")
	var times []float64
	var rss int64
	for range max(runs, 1) {
		secs, r, err := timeProcess(exec.Command(self, "merge", recipePath, "-o", out, "--quiet", "--threads", fmt.Sprint(threads)))
		if err != nil {
			return fmt.Errorf("lora: %w", err)
		}
		os.Remove(out)
		times, rss = append(times, secs), max(rss, r)
	}
	secs := median(times)
	read := int64(models+1) * size
	bound := 3*int64(models+2)*largest + 100e6
	verdict := "within"
	if rss > bound {
		verdict = "OVER"
	}
	fmt.Fprintf(ctx.stdout, "%-18s %10s %10.2f %12.2f %14s   %s %s (%d x %d matrices)\n", fmt.Sprintf("ladle lora r=%d", rank), ckpt.FormatBytes(read), secs, float64(read)/1e9/secs, ckpt.FormatBytes(rss), verdict, ckpt.FormatBytes(bound), side, side)
	return nil
}

// generateAdapter writes a rank-r PEFT adapter folder with random factors for every
// 2-D tensor of base.
func generateAdapter(dir string, base ckpt.Source, rank int, seed uint64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	config := fmt.Sprintf(`{"peft_type": "LORA", "r": %d, "lora_alpha": %d, "target_modules": ["weight"], "bias": "none"}`, rank, 2*rank)
	if err := os.WriteFile(filepath.Join(dir, lora.ConfigFile), []byte(config), 0o644); err != nil {
		return err
	}
	var infos []ckpt.Info
	for _, t := range base.Tensors() {
		if len(t.Shape) != 2 || !strings.HasSuffix(t.Name, ".weight") {
			continue
		}
		m := lora.KeyPrefix + strings.TrimSuffix(t.Name, ".weight")
		infos = append(infos, ckpt.Info{Name: m + ".lora_A.weight", DType: dtype.F32, Shape: []int64{int64(rank), t.Shape[1]}},
			ckpt.Info{Name: m + ".lora_B.weight", DType: dtype.F32, Shape: []int64{t.Shape[0], int64(rank)}})
	}
	rng := rand.New(rand.NewPCG(seed+7, seed))
	return safetensors.WriteFile(filepath.Join(dir, lora.WeightsFile), infos, map[string]string{"format": "pt"}, func(w *safetensors.Writer) error {
		for _, info := range infos {
			b := make([]byte, info.Bytes())
			for i := 0; i < len(b); i += 4 {
				binary.LittleEndian.PutUint32(b[i:], math.Float32bits(float32(rng.NormFloat64()*0.01)))
			}
			if err := w.WriteTensor(info.Name, b); err != nil {
				return err
			}
		}
		return nil
	})
}
