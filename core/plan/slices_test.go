package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ladle/core/dtype"
)

// llamaLayout is a tiny decoder stack with mergekit's (Llama's) tensor names.
func llamaLayout(layers int) []testTensor {
	ts := []testTensor{{"model.embed_tokens.weight", dtype.F32, []int64{32, 8}}}
	for l := range layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		ts = append(ts,
			testTensor{p + "input_layernorm.weight", dtype.F32, []int64{8}},
			testTensor{p + "mlp.down_proj.weight", dtype.F32, []int64{8, 16}},
			testTensor{p + "mlp.up_proj.weight", dtype.F32, []int64{16, 8}},
			testTensor{p + "self_attn.q_proj.weight", dtype.BF16, []int64{8, 8}},
		)
	}
	return append(ts, testTensor{"model.norm.weight", dtype.F32, []int64{8}}, testTensor{"lm_head.weight", dtype.F32, []int64{32, 8}},
		testTensor{"model.rotary.step", dtype.I64, []int64{}})
}

func writeLlama(t *testing.T, dir, name string, layers int, seed uint64) map[string][]float32 {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	return writeModel(t, path, llamaLayout(layers), 1, seed, 0.05)
}

// mergekit's examples/orcamini-platy-44layer.yml, unchanged but for the layer counts:
// a passthrough frankenmerge of two models' layer ranges.
func TestSlicesFrankenmerge(t *testing.T) {
	dir := t.TempDir()
	a := writeLlama(t, dir, "psmathur/orca_mini_v3_13b", 6, 10)
	b := writeLlama(t, dir, "garage-bAInd/Platypus2-13B", 6, 20)
	out := mergeToBytes(t, dir, `slices:
  - sources:
    - model: psmathur/orca_mini_v3_13b
      layer_range: [0, 4]
  - sources:
    - model: garage-bAInd/Platypus2-13B
      layer_range: [2, 6]
merge_method: passthrough
dtype: float16
`, Options{})
	got, src := tensorsOf(t, out)
	var names []string
	for _, info := range src.Tensors() {
		names = append(names, info.Name)
	}
	var want []string
	want = append(want, "model.embed_tokens.weight")
	for l := range 8 {
		for _, s := range []string{"input_layernorm.weight", "mlp.down_proj.weight", "mlp.up_proj.weight", "self_attn.q_proj.weight"} {
			want = append(want, fmt.Sprintf("model.layers.%d.%s", l, s))
		}
	}
	want = append(want, "model.norm.weight", "lm_head.weight", "model.rotary.step")
	if !slices.Equal(names, want) {
		t.Fatalf("output tensors\n%v\nwant (pre, layers, post)\n%v", names, want)
	}
	same := func(name string, from map[string][]float32, fromName string) {
		t.Helper()
		if !slices.Equal(got[name], from[fromName]) {
			t.Errorf("%s is not %s of its source", name, fromName)
		}
	}
	same("model.embed_tokens.weight", a, "model.embed_tokens.weight")
	same("model.layers.3.mlp.up_proj.weight", a, "model.layers.3.mlp.up_proj.weight")
	same("model.layers.4.mlp.up_proj.weight", b, "model.layers.2.mlp.up_proj.weight")
	same("model.layers.7.self_attn.q_proj.weight", b, "model.layers.5.self_attn.q_proj.weight")
	same("model.norm.weight", b, "model.norm.weight")
	same("lm_head.weight", b, "lm_head.weight")
	if info, _ := src.Tensors()[len(src.Tensors())-1], 0; info.DType != dtype.I64 {
		t.Errorf("the integer tensor became %s", info.DType)
	}

	// passthrough's scale, with mergekit's filter form, applies to its source's tensors.
	out = mergeToBytes(t, dir, `slices:
  - sources:
    - model: psmathur/orca_mini_v3_13b
      layer_range: [0, 2]
      parameters:
        scale:
          - filter: down_proj
            value: 0.5
          - value: 1
merge_method: passthrough
`, Options{})
	got, _ = tensorsOf(t, out)
	for e, v := range got["model.layers.1.mlp.down_proj.weight"] {
		if v != float32(0.5*float64(a["model.layers.1.mlp.down_proj.weight"][e])) {
			t.Fatalf("scaled element %d = %v", e, v)
		}
	}
	same("model.layers.1.mlp.up_proj.weight", a, "model.layers.1.mlp.up_proj.weight")
}

// A slice spanning every layer of both models is the whole-model merge: gradients
// run over the slice's layers exactly as over the model's (mergekit's
// examples/gradient-slerp.yml, with filter for its pattern).
func TestSlicesWholeRangeEqualsWholeModel(t *testing.T) {
	dir := t.TempDir()
	writeLlama(t, dir, "a.safetensors", 5, 10)
	writeLlama(t, dir, "b.safetensors", 5, 20)
	params := `parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5
`
	sliced := mergeToBytes(t, dir, `slices:
  - sources:
      - model: a.safetensors
        layer_range: [0, 5]
      - model: b.safetensors
        layer_range: [0, 5]
merge_method: slerp
base_model: a.safetensors
`+params, Options{Threads: 3})
	whole := mergeToBytes(t, dir, "merge_method: slerp\nbase_model: a.safetensors\nmodels: [a.safetensors, b.safetensors]\n"+params, Options{})
	gs, _ := tensorsOf(t, sliced)
	gw, _ := tensorsOf(t, whole)
	for name, v := range gw {
		if !slices.Equal(gs[name], v) {
			t.Errorf("%s differs between the slice and the whole-model merge", name)
		}
	}
	if len(gs) != len(gw) {
		t.Errorf("%d tensors, whole model %d", len(gs), len(gw))
	}
}

// Two slices merged with different parameters: a slice's parameters override the
// global ones, and a source's override the slice's.
func TestSlicesParameterPrecedence(t *testing.T) {
	dir := t.TempDir()
	writeLlama(t, dir, "a.safetensors", 4, 10)
	writeLlama(t, dir, "b.safetensors", 4, 20)
	sliced := mergeToBytes(t, dir, `slices:
  - sources:
      - {model: a.safetensors, layer_range: [0, 2]}
      - {model: b.safetensors, layer_range: [0, 2], parameters: {weight: 3}}
  - sources:
      - {model: a.safetensors, layer_range: [2, 4]}
      - {model: b.safetensors, layer_range: [2, 4]}
    parameters: {weight: 0.25}
merge_method: linear
parameters: {weight: 1}
`, Options{})
	w1 := mergeToBytes(t, dir, "merge_method: linear\nmodels: [{model: a.safetensors, parameters: {weight: 1}}, {model: b.safetensors, parameters: {weight: 3}}]\n", Options{})
	w2 := mergeToBytes(t, dir, "merge_method: linear\nparameters: {weight: 0.25}\nmodels: [a.safetensors, b.safetensors]\n", Options{})
	gs, _ := tensorsOf(t, sliced)
	g1, _ := tensorsOf(t, w1)
	g2, _ := tensorsOf(t, w2)
	for name, v := range gs {
		want := g1[name]
		if strings.Contains(name, "layers.2.") || strings.Contains(name, "layers.3.") || name == "model.norm.weight" || name == "lm_head.weight" {
			want = g2[name]
		}
		if !slices.Equal(v, want) {
			t.Errorf("%s: not merged with its slice's parameters", name)
		}
	}
}

func TestSlicesErrors(t *testing.T) {
	dir := t.TempDir()
	writeLlama(t, dir, "a.safetensors", 4, 10)
	writeLlama(t, dir, "b.safetensors", 4, 20)
	writeWith(t, filepath.Join(dir, "flat.safetensors"), "conv1.weight", 1) // no numbered layers
	for _, tc := range []struct{ yaml, want string }{
		{"merge_method: passthrough\nslices: [{sources: [{model: a.safetensors, layer_range: [2, 6]}]}]\n", "goes past the layers of a.safetensors, which has 4 (0 to 3): the range's end is exclusive, so the widest is [0, 4]"},
		{"merge_method: passthrough\nslices: [{sources: [{model: flat.safetensors, layer_range: [0, 2]}]}]\n", "flat.safetensors has no numbered layers"},
		{"merge_method: linear\nslices: [{sources: [{model: a.safetensors, layer_range: [0, 2]}, {model: b.safetensors, layer_range: [0, 3]}]}]\n", "spans 3 layers"},
		{"merge_method: ties\nbase_model: c.safetensors\nslices: [{sources: [{model: a.safetensors, layer_range: [0, 2]}, {model: b.safetensors, layer_range: [0, 2]}]}]\n", "not among the slice's sources"},
		{"merge_method: passthrough\nslices: [{sources: [{model: a.safetensors, layer_range: [0, 2]}, {model: b.safetensors, layer_range: [0, 2]}]}]\n", "at most 1"},
		{"merge_method: passthrough\nslices: [{sources: [{model: nothere.safetensors, layer_range: [0, 2]}]}]\n", "nothere"},
	} {
		_, err := tryMerge(dir, tc.yaml, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
