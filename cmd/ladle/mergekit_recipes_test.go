package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

// writeLlamaModel writes a tiny decoder with Llama's tensor names under dir/name (a
// path such as "org/model", as in mergekit recipes): base values shared by every model
// plus this model's own fine-tuning noise.
func writeLlamaModel(t *testing.T, dir, name string, layers int, seed uint64) {
	t.Helper()
	var infos []ckpt.Info
	add := func(n string, shape ...int64) {
		infos = append(infos, ckpt.Info{Name: n, DType: dtype.F32, Shape: shape})
	}
	add("model.embed_tokens.weight", 32, 8)
	for l := range layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"input_layernorm.weight", 8)
		add(p+"mlp.down_proj.weight", 8, 16)
		add(p+"self_attn.q_proj.weight", 8, 8)
	}
	add("model.norm.weight", 8)
	add("lm_head.weight", 32, 8)
	var data [][]byte
	for _, info := range infos {
		rb := rand.New(rand.NewPCG(1, uint64(len(info.Name))))
		rs := rand.New(rand.NewPCG(seed, uint64(len(info.Name))))
		b := make([]byte, info.Bytes())
		for i := 0; i < len(b); i += 4 {
			binary.LittleEndian.PutUint32(b[i:], math.Float32bits(float32(rb.NormFloat64()*0.1+rs.NormFloat64()*0.01)))
		}
		data = append(data, b)
	}
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	writeSafetensors(t, path, infos, data)
}

// Recipes for karcher, nuslerp, multislerp, sce and passthrough with slices, as
// mergekit's documentation (docs/merge_methods.md) and examples
// (examples/orcamini-platy-44layer.yml) write them, and as model cards built with
// mergekit publish them, run unchanged (mergekit-only keys such as tokenizer are
// ignored, with a note).
func TestMergekitRecipesRunUnchanged(t *testing.T) {
	recipes := map[string]string{
		"karcher": `models:
  - model: Vortex5/Harmonic-Moon-12B
  - model: Vortex5/Scarlet-Ink-12B
merge_method: karcher
dtype: bfloat16
parameters:
  tol: 1e-10
  max_iter: 1200
tokenizer:
  source: union
`,
		"nuslerp": `models:
  - model: deepseek-ai/DeepSeek-R1-Distill-Llama-8B
    parameters:
      weight: 0.5
  - model: NousResearch/Hermes-3-Llama-3.1-8B
    parameters:
      weight: 0.5
merge_method: nuslerp
base_model: meta-llama/Llama-3.1-8B-Instruct
dtype: float16
`,
		"nuslerp rows": `models:
  - model: sophosympatheia/strawberrylemonade-70b-v1.0
    parameters:
      weight: [0.1, 0.3, 0.1]
  - model: sophosympatheia/strawberrylemonade-70b-v1.1.0
    parameters:
      weight: [0.9, 0.7, 0.9]
merge_method: nuslerp
parameters:
  nuslerp_flatten: false
  nuslerp_row_wise: true
dtype: float32
out_dtype: bfloat16
`,
		"multislerp": `models:
  - model: Retreatcost/KansenSakura-Eclipse-RP-12b
    parameters:
      weight: 0.5
  - model: Retreatcost/KansenSakura-Radiance-RP-12b
    parameters:
      weight: 0.5
  - model: Retreatcost/KansenSakura-Erosion-RP-12b
    parameters:
      weight: 0.5
base_model: Retreatcost/KansenSakura-Zero-RP-12b
merge_method: multislerp
tokenizer:
  source: base
chat_template: chatml
parameters:
  normalize_weights: false
  eps: 1e-8
dtype: bfloat16
`,
		"sce": `models:
  - model: NousResearch/Hermes-3-Llama-3.1-8B
    parameters:
      weight: 0.3
  - model: deepseek-ai/DeepSeek-R1-Distill-Llama-8B
    parameters:
      weight: 0.7
merge_method: sce
base_model: meta-llama/Llama-3.1-8B-Instruct
parameters:
  lambda: 0.5
  select_topk: 0.7
dtype: float16
`,
		"passthrough slices": `slices:
  - sources:
    - model: psmathur/orca_mini_v3_13b
      layer_range: [0, 24]
  - sources:
    - model: garage-bAInd/Platypus2-13B
      layer_range: [20, 40]
merge_method: passthrough
dtype: float16
`,
	}
	for name, yaml := range recipes {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			dir := t.TempDir()
			layers := 3
			if strings.Contains(name, "slices") {
				layers = 40
			}
			seed := uint64(5)
			for _, line := range strings.Split(yaml, "\n") {
				line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- "))
				for _, key := range []string{"model: ", "base_model: "} {
					if m, ok := strings.CutPrefix(line, key); ok {
						if _, err := os.Stat(filepath.Join(dir, m)); err != nil {
							writeLlamaModel(t, dir, m, layers, seed)
							seed++
						}
					}
				}
			}
			recipe := filepath.Join(dir, "recipe.yaml")
			if err := os.WriteFile(recipe, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "merged.safetensors")
			code, stdout, stderr := runCLI(t, "merge", recipe, "-o", out, "--quiet")
			if code != 0 {
				t.Fatalf("ladle merge: exit %d\n%s\n%s", code, stdout, stderr)
			}
			src, err := ckpt.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			wantLayers := layers
			if strings.Contains(name, "slices") {
				wantLayers = 24 + 20
			}
			if got := len(src.Tensors()); got != 3+3*wantLayers {
				t.Errorf("%d tensors, want %d", got, 3+3*wantLayers)
			}
		})
	}
}
