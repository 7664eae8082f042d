package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/core/recipe"
)

// llamaLike lists the tensors of a tiny two-block decoder in the Hugging Face naming,
// so that gradients over layers and filters such as "mlp" mean what they mean there.
func llamaLike() []ckpt.Info {
	infos := []ckpt.Info{{Name: "model.embed_tokens.weight", DType: dtype.F16, Shape: []int64{32, 8}}}
	for l := 0; l < 3; l++ {
		p := "model.layers." + string(rune('0'+l)) + "."
		infos = append(infos,
			ckpt.Info{Name: p + "self_attn.q_proj.weight", DType: dtype.F16, Shape: []int64{8, 8}},
			ckpt.Info{Name: p + "mlp.up_proj.weight", DType: dtype.F16, Shape: []int64{16, 8}},
			ckpt.Info{Name: p + "input_layernorm.weight", DType: dtype.F16, Shape: []int64{8}})
	}
	return append(infos, ckpt.Info{Name: "model.norm.weight", DType: dtype.F16, Shape: []int64{8}}, ckpt.Info{Name: "lm_head.weight", DType: dtype.F16, Shape: []int64{32, 8}})
}

// writeHFModel writes a model as a Hugging Face-style folder: sharded safetensors and
// an index, as `save_pretrained` leaves them.
func writeHFModel(t *testing.T, dir string, seed uint64) {
	t.Helper()
	infos := llamaLike()
	sw, err := safetensors.NewShardedWriter(dir, "model", infos, map[string]string{"format": "pt"}, 600)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	for _, info := range infos {
		v := make([]float32, info.NumElements())
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.02)
		}
		b := make([]byte, info.Bytes())
		dtype.EncodeF32(b, v, info.DType)
		if err := sw.WriteTensor(info.Name, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
}

// mergekit's TIES and DARE-TIES examples run unchanged, their model names being local
// folders of sharded checkpoints.
func TestMergekitExamplesRunUnchanged(t *testing.T) {
	examples := map[string]string{
		"ties.yml": `models:
  - model: psmathur/orca_mini_v3_13b
    parameters:
      density: [1, 0.7, 0.1] # density gradient
      weight: 1.0
  - model: garage-bAInd/Platypus2-13B
    parameters:
      density: 0.5
      weight: [0, 0.3, 0.7, 1] # weight gradient
  - model: WizardLM/WizardMath-13B-V1.0
    parameters:
      density: 0.33
      weight:
        - filter: mlp
          value: 0.5
        - value: 0
merge_method: ties
base_model: TheBloke/Llama-2-13B-fp16
parameters:
  normalize: true
  int8_mask: true
dtype: float16
`,
		"dare_ties.yml": `models:
  - model: mistralai/Mistral-7B-Instruct-v0.2
    parameters:
      density: 0.5
      weight: 0.5
  - model: BioMistral/BioMistral-7B
    parameters:
      density: 0.5
      weight: 0.5
merge_method: dare_ties
base_model: mistralai/Mistral-7B-v0.1
parameters:
  normalize: false
  int8_mask: true
dtype: bfloat16
`,
	}
	dir := t.TempDir()
	for name, text := range examples {
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
		r, err := recipe.Parse([]byte(text), name, dir)
		if err != nil {
			t.Fatal(err)
		}
		for i, path := range r.ModelPaths() {
			if _, err := os.Stat(filepath.Join(dir, path)); err != nil {
				writeHFModel(t, filepath.Join(dir, path), uint64(i+len(name)))
			}
		}
		out := filepath.Join(dir, name+".safetensors")
		code, stdout, stderr := runCLI(t, "merge", filepath.Join(dir, name), "-o", out)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		if !strings.Contains(stdout, "wrote "+out) {
			t.Errorf("%s: stdout %q", name, stdout)
		}
		src, err := ckpt.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(src.Tensors()) != len(llamaLike()) || src.Tensors()[0].DType != dtype.F16 {
			t.Errorf("%s: output %v", name, src.Tensors()[:1])
		}
		if !strings.Contains(src.Metadata()[recipe.MetadataKey], "merge_method: "+strings.TrimSuffix(name, ".yml")) {
			t.Errorf("%s: the output does not carry its recipe", name)
		}
		src.Close()
	}
}

func TestMergeCommand(t *testing.T) {
	dir := t.TempDir()
	for i, name := range []string{"base", "a", "b"} {
		writeHFModel(t, filepath.Join(dir, name), uint64(i))
	}
	os.WriteFile(filepath.Join(dir, "r.yaml"), []byte("merge_method: dare_linear\nbase_model: base\nmodels: [a, b]\nparameters: {density: 0.5}\nladle: {seed: 3}\n"), 0o644)
	run := func(args ...string) []byte {
		t.Helper()
		out := filepath.Join(t.TempDir(), "m.safetensors")
		code, _, stderr := runCLI(t, append([]string{"merge", filepath.Join(dir, "r.yaml"), "-o", out}, args...)...)
		if code != 0 {
			t.Fatalf("merge %v: exit %d: %s", args, code, stderr)
		}
		if !strings.Contains(stderr, "100%") {
			t.Errorf("no progress lines on stderr: %q", stderr)
		}
		b, _ := os.ReadFile(out)
		return b
	}
	seed3 := run("--threads", "1")
	if !bytes.Equal(seed3, run("--threads", "4")) {
		t.Error("--threads changed the output")
	}
	if !bytes.Equal(run("--seed", "9"), run("--seed", "9", "--threads", "2")) {
		t.Error("--seed 9 is not reproducible")
	}
	if bytes.Equal(tensorData(t, seed3), tensorData(t, run("--seed", "9"))) {
		t.Error("--seed did not change the DARE masks")
	}
	// Sharded output: a folder with an index, readable as one checkpoint.
	shards := filepath.Join(t.TempDir(), "merged")
	if code, _, stderr := runCLI(t, "merge", filepath.Join(dir, "r.yaml"), "-o", shards, "--shard-size", "1kB", "--quiet"); code != 0 {
		t.Fatal(stderr)
	}
	src, err := ckpt.Open(shards)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	single, _ := safetensors.Open(bytes.NewReader(seed3), int64(len(seed3)), "single")
	for _, info := range single.Tensors() {
		a, _ := ckpt.ReadAll(single, info.Name)
		b, _ := ckpt.ReadAll(src, info.Name)
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between the sharded and the single output", info.Name)
		}
	}
	if entries, _ := os.ReadDir(shards); len(entries) < 3 {
		t.Errorf("the sharded output has %d files", len(entries))
	}
}

func tensorData(t *testing.T, file []byte) []byte {
	src, err := safetensors.Open(bytes.NewReader(file), int64(len(file)), "x")
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, info := range src.Tensors() {
		b, _ := ckpt.ReadAll(src, info.Name)
		all = append(all, b...)
	}
	return all
}

// A merge that fails midway leaves no file behind and exits 1 naming the problem.
func TestFailedMergeLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	writeHFModel(t, filepath.Join(dir, "a"), 1)
	// b is a's twin with one NaN in its last tensor, so the failure comes late.
	infos := llamaLike()
	var buf bytes.Buffer
	w, _ := safetensors.NewWriter(&buf, infos, nil)
	a, _ := ckpt.Open(filepath.Join(dir, "a"))
	for i, info := range infos {
		b, _ := ckpt.ReadAll(a, info.Name)
		if i == len(infos)-1 {
			b[0], b[1] = 0x00, 0x7e // F16 NaN
		}
		w.WriteTensor(info.Name, b)
	}
	a.Close()
	w.Close()
	os.WriteFile(filepath.Join(dir, "b.safetensors"), buf.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "r.yaml"), []byte("merge_method: linear\nmodels: [a, b.safetensors]\n"), 0o644)
	outDir := t.TempDir()
	code, _, stderr := runCLI(t, "merge", filepath.Join(dir, "r.yaml"), "-o", filepath.Join(outDir, "m.safetensors"))
	if code != 1 || !strings.Contains(stderr, "lm_head.weight") {
		t.Errorf("exit %d, stderr %q; want 1 and the tensor named", code, stderr)
	}
	if entries, _ := os.ReadDir(outDir); len(entries) != 0 {
		t.Errorf("a failed merge left %d files", len(entries))
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"2GB": 2e9, "500MB": 5e8, "1.5GiB": 1.5 * (1 << 30), "1000": 1000, "4kib": 4096, " 3 gb ": 3e9} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GB", "-1MB", "two", "0"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}
