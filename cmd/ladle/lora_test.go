package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/core/lora"
	"ladle/core/tensor"
)

// f32Of reads a tensor as float32.
func f32Of(t *testing.T, src ckpt.Source, name string) (ckpt.Info, []float32) {
	t.Helper()
	info, ok := ckpt.Lookup(src, name)
	if !ok {
		t.Fatalf("%s has no %s", src.Path(), name)
	}
	raw, err := ckpt.ReadAll(src, name)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, info.NumElements())
	if err := dtype.DecodeF32(v, raw, info.DType); err != nil {
		t.Fatal(err)
	}
	return info, v
}

// writeF32s writes tensors given as float32 values, each encoded as its dtype.
func writeF32s(t *testing.T, path string, infos []ckpt.Info, vals map[string][]float32, meta map[string]string) {
	t.Helper()
	err := safetensors.WriteFile(path, infos, meta, func(w *safetensors.Writer) error {
		for _, info := range infos {
			b := make([]byte, info.Bytes())
			if err := dtype.EncodeF32(b, vals[info.Name], info.DType); err != nil {
				return err
			}
			if err := w.WriteTensor(info.Name, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writePEFT writes a rank-r PEFT adapter folder of the modules given (their base
// shapes in shapes), with random factors, the way PEFT's save_pretrained lays it
// out, and returns the dense fine-tune W + (alpha/r)·B·A of base as a checkpoint
// at densePath (adapted tensors F32, the others as in the base).
func writePEFT(t *testing.T, base ckpt.Source, dir, densePath string, r int, alpha float64, modules []string, seed uint64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"alpha_pattern": {}, "base_model_name_or_path": "base", "bias": "none",
  "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true, "layer_replication": null,
  "lora_alpha": %v, "lora_dropout": 0.05, "modules_to_save": null, "peft_type": "LORA", "r": %d,
  "rank_pattern": {}, "revision": null, "target_modules": ["q_proj", "up_proj"], "task_type": "CAUSAL_LM",
  "use_dora": false, "use_rslora": false}`, alpha, r)
	if err := os.WriteFile(filepath.Join(dir, "adapter_config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var infos []ckpt.Info
	vals := map[string][]float32{}
	dense := map[string][]float32{}
	denseInfos := append([]ckpt.Info(nil), base.Tensors()...)
	for i, info := range denseInfos {
		_, w := f32Of(t, base, info.Name)
		dense[info.Name] = w
		m := strings.TrimSuffix(info.Name, ".weight")
		if !contains(modules, m) {
			continue
		}
		out, in := int(info.Shape[0]), int(info.Shape[1])
		rng := tensor.NewRNG(seed, 0, m)
		a, b := make([]float32, r*in), make([]float32, out*r)
		for k := range a {
			a[k] = float32(rng.Float64(int64(k))*2-1) * 0.1
		}
		for k := range b {
			b[k] = float32(rng.Float64(int64(len(a)+k))*2-1) * 0.1
		}
		ka, kb := lora.KeyPrefix+m+".lora_A.weight", lora.KeyPrefix+m+".lora_B.weight"
		infos = append(infos, ckpt.Info{Name: ka, DType: dtype.F32, Shape: []int64{int64(r), int64(in)}},
			ckpt.Info{Name: kb, DType: dtype.F32, Shape: []int64{int64(out), int64(r)}})
		vals[ka], vals[kb] = a, b
		s := alpha / float64(r)
		d := make([]float32, len(w))
		for o := 0; o < out; o++ {
			for j := 0; j < in; j++ {
				var sum float64
				for k := 0; k < r; k++ {
					sum += float64(b[o*r+k]) * float64(a[k*in+j])
				}
				d[o*in+j] = float32(float64(w[o*in+j]) + s*sum)
			}
		}
		dense[info.Name] = d
		denseInfos[i].DType = dtype.F32
	}
	writeF32s(t, filepath.Join(dir, "adapter_model.safetensors"), infos, vals, map[string]string{"format": "pt"})
	writeF32s(t, densePath, denseInfos, dense, map[string]string{"format": "pt"})
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// TestLoRAFineTunesMergedByRecipe: three LoRA fine-tunes of one (sharded, float16)
// base, named base+adapter in mergekit's syntax, merge by task arithmetic and TIES to
// exactly the bytes that the same recipes give over the dense W + s·B·A fine-tunes.
func TestLoRAFineTunesMergedByRecipe(t *testing.T) {
	dir := t.TempDir()
	writeHFModel(t, filepath.Join(dir, "base"), 1)
	base, err := ckpt.Open(filepath.Join(dir, "base"))
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	var modules []string
	for l := 0; l < 3; l++ {
		modules = append(modules, fmt.Sprintf("model.layers.%d.self_attn.q_proj", l), fmt.Sprintf("model.layers.%d.mlp.up_proj", l))
	}
	for i, name := range []string{"math", "code", "chat"} {
		writePEFT(t, base, filepath.Join(dir, "lora-"+name), filepath.Join(dir, "dense-"+name+".safetensors"), 2+i, 16, modules[i:], uint64(10+i))
	}
	recipes := map[string]string{
		"task_arithmetic": "merge_method: task_arithmetic\nbase_model: base\nparameters: {lambda: 0.8}\nmodels:\n" +
			"  - model: %s\n    parameters: {weight: 1.0}\n  - model: %s\n    parameters: {weight: 0.5}\n  - model: %s\n    parameters: {weight: [0.2, 1.0]}\n",
		"ties": "merge_method: ties\nbase_model: base\nparameters: {normalize: true}\ndtype: float16\nmodels:\n" +
			"  - model: %s\n    parameters: {weight: 1.0, density: 0.5}\n  - model: %s\n    parameters: {weight: 0.7, density: 0.7}\n  - model: %s\n    parameters: {weight: 1.0, density: 0.3}\n",
	}
	for method, text := range recipes {
		outputs := map[string][]byte{}
		for _, kind := range []string{"lora", "dense"} {
			var refs []any
			for _, name := range []string{"math", "code", "chat"} {
				if kind == "lora" {
					refs = append(refs, "base+lora-"+name)
				} else {
					refs = append(refs, "dense-"+name+".safetensors")
				}
			}
			rp := filepath.Join(dir, method+"-"+kind+".yaml")
			if err := os.WriteFile(rp, []byte(fmt.Sprintf(text, refs...)), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, method+"-"+kind+".safetensors")
			if code, _, stderr := runCLI(t, "merge", rp, "-o", out); code != 0 {
				t.Fatalf("%s over %s: exit %d: %s", method, kind, code, stderr)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			outputs[kind] = b
		}
		if !bytes.Equal(tensorBytes(t, outputs["lora"]), tensorBytes(t, outputs["dense"])) {
			t.Errorf("%s: merging the LoRA fine-tunes differs from merging their dense equivalents", method)
		}
		// The merge changed the adapted tensors only.
		src, err := ckpt.Open(filepath.Join(dir, method+"-lora.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range base.Tensors() {
			_, got := f32Of(t, src, info.Name)
			_, want := f32Of(t, base, info.Name)
			same := fmt.Sprint(got) == fmt.Sprint(want)
			if adapted := contains(modules, strings.TrimSuffix(info.Name, ".weight")); adapted == same {
				t.Errorf("%s: %s changed = %v, adapted = %v", method, info.Name, !same, adapted)
			}
		}
		src.Close()
	}
}

// TestLoRAErrorsInRecipes: a bad adapter fails the merge with the recipe's key, the
// adapter's file and the tensor, and leaves no output.
func TestLoRAErrorsInRecipes(t *testing.T) {
	dir := t.TempDir()
	writeHFModel(t, filepath.Join(dir, "base"), 1)
	base, err := ckpt.Open(filepath.Join(dir, "base"))
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	writePEFT(t, base, filepath.Join(dir, "lora"), filepath.Join(dir, "dense.safetensors"), 2, 4, []string{"model.layers.0.mlp.up_proj"}, 1)
	cfg := filepath.Join(dir, "lora", "adapter_config.json")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, bytes.Replace(b, []byte(`"r": 2`), []byte(`"r": 8`), 1), 0o644)
	rp := filepath.Join(dir, "r.yaml")
	os.WriteFile(rp, []byte("merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - model: base+lora\n"), 0o644)
	out := filepath.Join(dir, "out.safetensors")
	code, _, stderr := runCLI(t, "merge", rp, "-o", out)
	for _, want := range []string{"models[0]", "adapter_model.safetensors", "model.layers.0.mlp.up_proj.lora_A.weight", "r = 8"} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, %q: want it to mention %q", code, stderr, want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed merge left its output")
	}
}

// TestLoRAExtractRealFineTune is the real LoRA-against-dense check: the fine-tune of
// the task-arithmetic lab (trained on real digits) extracted at full rank and
// applied by a recipe gives back its matrices to 1e-5 relative and the dense model's
// held-out accuracy; lower ranks trade accuracy for size, with the error that
// Eckart–Young allows.
func TestLoRAExtractRealFineTune(t *testing.T) {
	lab := filepath.Join("..", "..", "public", "labs", "task-arithmetic")
	if _, err := os.Stat(filepath.Join(lab, "task-high.safetensors")); err != nil {
		t.Skipf("the task-arithmetic lab is not built (%v); run `ladle labs build`", err)
	}
	dir := t.TempDir()
	base, err := ckpt.Open(filepath.Join(lab, "base.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	ft, err := ckpt.Open(filepath.Join(lab, "task-high.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ft.Close()
	// The dense fine-tune of the matrices (a LoRA adapter carries no biases).
	vals := map[string][]float32{}
	for _, info := range base.Tensors() {
		from := ft
		if len(info.Shape) != 2 {
			from = base
		}
		_, vals[info.Name] = f32Of(t, from, info.Name)
	}
	densePath := filepath.Join(dir, "dense.safetensors")
	writeF32s(t, densePath, base.Tensors(), vals, base.Metadata())
	basePath, _ := filepath.Abs(filepath.Join(lab, "base.safetensors"))
	ftPath, _ := filepath.Abs(filepath.Join(lab, "task-high.safetensors"))
	data := filepath.Join(lab, "data.safetensors")
	dense := evalJSON(t, densePath, "--data", data, "--split", "high")
	var prevErr = math.Inf(1)
	for _, rank := range []int{1, 2, 4, 8, 64} {
		out := filepath.Join(dir, fmt.Sprintf("r%d", rank))
		code, stdout, stderr := runCLI(t, "lora", "extract", basePath, ftPath, "--rank", fmt.Sprint(rank), "-o", out, "--json")
		if code != 0 {
			t.Fatalf("lora extract: exit %d: %s", code, stderr)
		}
		var rep struct {
			Tensors []lora.TensorReport
			Skipped []lora.Skipped
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("%v: %s", err, stdout)
		}
		if len(rep.Tensors) != 1 || rep.Tensors[0].Name != "fc1.weight" || len(rep.Skipped) != 1 {
			t.Fatalf("report %s: want fc1.weight (the lab's fine-tune keeps its head), and its bias skipped", stdout)
		}
		// The rank-r error is the Eckart–Young bound, and falls as r grows.
		total := 0.0
		for _, tr := range rep.Tensors {
			if math.Abs(tr.RelError-tr.Bound) > 1e-5 {
				t.Errorf("rank %d, %s: error %g, Eckart–Young %g", rank, tr.Name, tr.RelError, tr.Bound)
			}
			total += tr.RelError
		}
		if total > prevErr {
			t.Errorf("rank %d: error %g grew from %g", rank, total, prevErr)
		}
		prevErr = total
		got := evalJSON(t, basePath+"+"+out, "--data", data, "--split", "high")
		t.Logf("rank %2d: relative error %.3g, accuracy on the held-out task %.4f (dense %.4f)", rank, rep.Tensors[0].RelError, got.Accuracy, dense.Accuracy)
		if rank == 64 {
			applied, err := openModel(basePath + "+" + out)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"fc1.weight", "fc2.weight"} {
				_, g := f32Of(t, applied, name)
				var d, n float64
				for i, v := range vals[name] {
					d += (float64(g[i]) - float64(v)) * (float64(g[i]) - float64(v))
					n += float64(v) * float64(v)
				}
				if rel := math.Sqrt(d / n); rel > 1e-5 {
					t.Errorf("full rank, %s: relative error %g, want <= 1e-5", name, rel)
				}
			}
			applied.Close()
			if math.Abs(got.Accuracy-dense.Accuracy) > 1.0/float64(dense.N) || math.Abs(got.Loss-dense.Loss) > 1e-4*dense.Loss {
				t.Errorf("full rank: accuracy %v loss %v, dense %v %v", got.Accuracy, got.Loss, dense.Accuracy, dense.Loss)
			}
		}
	}
}

// tensorBytes is a safetensors file's header tensors and data, without its metadata
// (which names the inputs).
func tensorBytes(t *testing.T, file []byte) []byte {
	t.Helper()
	src, err := safetensors.Open(bytes.NewReader(file), int64(len(file)), "out")
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, info := range src.Tensors() {
		b, err := ckpt.ReadAll(src, info.Name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, []byte(fmt.Sprint(info))...)
		out = append(out, b...)
	}
	return out
}

// TestLoRAExtractUsage: command-line mistakes exit 2 with the usage; a missing file
// exits 1 naming it.
func TestLoRAExtractUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"lora"},
		{"lora", "apply"},
		{"lora", "extract", "a.safetensors"},
		{"lora", "extract", "a.safetensors", "b.safetensors", "-o", "out"},
		{"lora", "extract", "a.safetensors", "b.safetensors", "--rank", "0", "-o", "out"},
		{"lora", "extract", "a.safetensors", "b.safetensors", "--rank", "4"},
	} {
		if code, _, stderr := runCLI(t, args...); code != 2 || !strings.Contains(stderr, "usage: ladle lora") {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
	missing := filepath.Join(dir, "missing.safetensors")
	code, _, stderr := runCLI(t, "lora", "extract", missing, missing, "--rank", "4", "-o", filepath.Join(dir, "out"))
	if code != 1 || !strings.Contains(stderr, missing) {
		t.Errorf("missing file: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Error("a failed extraction left its folder")
	}
}
