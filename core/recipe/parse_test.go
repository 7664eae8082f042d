package recipe

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const tiesRecipe = `
models:
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
`

// The TIES example of mergekit's README parses unchanged, and its parameters evaluate
// as mergekit evaluates them.
func TestParseMergekitExample(t *testing.T) {
	r, err := Parse([]byte(tiesRecipe), "ties.yaml", "/recipes")
	if err != nil {
		t.Fatal(err)
	}
	if r.MergeMethod != "ties" || r.BaseModel != "TheBloke/Llama-2-13B-fp16" || r.DType != "float16" || len(r.Models) != 3 {
		t.Fatalf("parsed %+v", r)
	}
	cases := []struct {
		name   string
		model  int
		tensor string
		t      float64
		want   any
	}{
		{"density", 0, "x", 0, 1.0},
		{"density", 0, "x", 0.5, 0.7},
		{"density", 0, "x", 0.75, lerp(0.5, 0.7, 0.1)}, // mergekit's own float64 arithmetic, to the last bit
		{"density", 0, "x", 1, 0.1},
		{"weight", 1, "x", 0, 0.0},
		{"weight", 1, "x", 0.5, 0.5*0.3 + 0.5*0.7},
		{"weight", 1, "x", 1, 1.0},
		{"weight", 2, "layers.0.mlp.up.weight", 0.3, 0.5},
		{"weight", 2, "layers.0.self_attn.q.weight", 0.3, 0.0},
		{"normalize", 0, "x", 0, true},
		{"normalize", -1, "x", 0, true},
		{"int8_mask", 2, "x", 0.5, true},
	}
	for _, c := range cases {
		got, ok := r.Param(c.name, c.model, c.tensor, c.t)
		if !ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Param(%s, model %d, %s, t=%v) = %v, %v; want %v", c.name, c.model, c.tensor, c.t, got, ok, c.want)
		}
	}
	if _, ok := r.Param("lambda", 0, "x", 0); ok {
		t.Error("an absent parameter was found")
	}
}

// lerp computes (1 − f)·a + f·b in float64 at run time (a constant expression would
// be exact, and mergekit's is not).
func lerp(f, a, b float64) float64 { return (1-f)*a + f*b }

// mergekit's precedence: a model's own setting beats the global one, and a model
// setting whose filters match nothing falls through to the global one.
func TestParamPrecedence(t *testing.T) {
	r, err := Parse([]byte(`
merge_method: linear
models:
  - model: a
    parameters: {weight: [{filter: fc, value: 3}]}
  - model: b
parameters:
  weight: [{filter: conv, value: 2}, {value: 1}]
`), "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		model  int
		tensor string
		want   float64
	}{{0, "fc1.weight", 3}, {0, "conv1.weight", 2}, {0, "norm.weight", 1}, {1, "fc1.weight", 1}, {1, "conv2.bias", 2}} {
		if got, _ := r.Param("weight", c.model, c.tensor, 0); got != c.want {
			t.Errorf("model %d tensor %s: weight %v, want %v", c.model, c.tensor, got, c.want)
		}
	}
}

func TestLadleOptions(t *testing.T) {
	r, err := Parse([]byte(`
merge_method: dare_ties
base_model: base.safetensors
models: [a.safetensors, {model: b.safetensors, parameters: {density: 0.5}}]
ladle: {seed: 7, trim_scope: model, rescale_mode: l1, allow_nonfinite: true, sparse: require, align: true, eval: {arch: arch.json, data: val.safetensors, split: val}}
`), "", "")
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Seed: 7, SeedSet: true, TrimScope: "model", RescaleMode: "l1", AllowNonFinite: true, Sparse: "require", Align: true,
		Eval: &EvalOptions{Arch: "arch.json", Data: "val.safetensors", Split: "val"}}
	if !reflect.DeepEqual(r.Ladle, want) {
		t.Errorf("options %+v, want %+v", r.Ladle, want)
	}
	if got := r.ModelPaths(); !reflect.DeepEqual(got, []string{"base.safetensors", "a.safetensors", "b.safetensors"}) {
		t.Errorf("ModelPaths %v", got)
	}
	plain, _ := Parse([]byte("merge_method: linear\nmodels: [a]\n"), "", "")
	if plain.Ladle.TrimScope != TrimScopeTensor || plain.Ladle.RescaleMode != RescalePaper || plain.Ladle.SeedSet {
		t.Errorf("defaults %+v", plain.Ladle)
	}
}

func TestNormaliseRoundTrips(t *testing.T) {
	for _, src := range []string{tiesRecipe, `
merge_method: dare_ties
base_model: base.safetensors
models: [a.safetensors, {model: b.safetensors, parameters: {density: 0.5, weight: [{filter: "fc", value: [0.1, 0.9]}]}}]
out_dtype: bfloat16
parameters: {lambda: 1.5, quantize: {levels: 16, type: linear}, layers: [conv1, conv2]}
ladle: {seed: 18446744073709551615, trim_scope: model, align: true, eval: {data: val.safetensors}}
`} {
		r, err := Parse([]byte(src), "", "")
		if err != nil {
			t.Fatal(err)
		}
		once := r.Normalise()
		r2, err := Parse(once, "", "")
		if err != nil {
			t.Fatalf("the normalised recipe does not parse: %v\n%s", err, once)
		}
		r.Ignored, r2.Ignored = nil, nil
		if !reflect.DeepEqual(r, r2) {
			t.Errorf("normalising changed the recipe:\n%+v\n%+v\n%s", r, r2, once)
		}
		if twice := r2.Normalise(); string(twice) != string(once) {
			t.Errorf("normalising twice differs:\n%s\n%s", once, twice)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		src  string
		line int
		want string
	}{
		{"", 0, "empty"},
		{"merge_method: [", 0, "not valid YAML"},
		{"- a\n- b\n", 1, "mapping"},
		{"models: [a]\n", 0, "merge_method: missing"},
		{"merge_method: linear\n", 0, "models: missing"},
		{"merge_method: linear\nmodels: [a]\nbase_mdoel: b\n", 3, `did you mean "base_model"`},
		{"merge_method: linear\nmerge_method: ties\nmodels: [a]\n", 2, "twice"},
		{"merge_method: linear\nmodels:\n  - model: a\n    parameter: {weight: 1}\n", 4, `did you mean "parameters"`},
		{"merge_method: linear\nmodels:\n  - parameters: {weight: 1}\n", 3, "no `model:`"},
		{"merge_method: linear\nmodels: [a]\nparameters: {weight: [1, x]}\n", 3, "mixes numbers and strings"},
		{"merge_method: linear\nmodels: [a]\nparameters: {weight: []}\n", 3, "empty list"},
		{"merge_method: linear\nmodels: [a]\nparameters: {weight: [{filter: fc}]}\n", 3, "needs a value"},
		{"merge_method: linear\nmodels: [a]\nparameters: {weight: .nan}\n", 3, "finite"},
		{"merge_method: linear\nmodels: [a]\nparameters: {weight: ~}\n", 3, "empty"},
		{"merge_method: linear\nmodels: [a]\nladle: {sed: 1}\n", 3, `did you mean "seed"`},
		{"merge_method: linear\nmodels: [a]\nladle: {seed: -1}\n", 3, "whole number"},
		{"merge_method: linear\nmodels: [a]\nladle: {trim_scope: modle}\n", 3, `did you mean "model"`},
		{"merge_method: linear\nslices: []\nmodels: [a]\n", 2, "expected a list"},
		{"merge_method: linear\nmodules: {}\nmodels: [a]\n", 2, "not supported"},
		{"merge_method: passthrough\nslices: [{sources: [{model: a, layer_range: [0, 4]}]}]\nmodels: [a]\n", 0, "either whole"},
		{"merge_method: passthrough\nslices: [{sources: [{model: a, layer_range: [4, 4]}]}]\n", 2, "is empty"},
		{"merge_method: passthrough\nslices: [{sources: [{model: a}]}]\n", 2, "no `layer_range"},
		{"merge_method: passthrough\nslices: [{sources: [{model: a, layer_range: [0, 2], weight: 1}]}]\n", 2, "unknown key"},
		{"merge_method: linear\nmodels: [{model: {lora: {path: b}}}]\n", 2, "expected a model path"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.src), "r.yaml", "")
		var re *Error
		if !errors.As(err, &re) {
			t.Errorf("%q: got %v, want a recipe Error", c.src, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || (c.line > 0 && re.Line != c.line) || !strings.HasPrefix(err.Error(), "r.yaml") {
			t.Errorf("%q: %v (line %d); want %q on line %d", c.src, err, re.Line, c.want, c.line)
		}
	}
}

func TestIgnoredMergekitKeys(t *testing.T) {
	r, err := Parse([]byte("merge_method: linear\nmodels: [a]\ntokenizer_source: union\nchat_template: chatml\n"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Ignored, []string{"tokenizer_source", "chat_template"}) {
		t.Errorf("Ignored %v", r.Ignored)
	}
}

func TestLayerPositions(t *testing.T) {
	stack := []string{"embed.weight", "layers.0.w", "layers.0.b", "layers.1.w", "layers.10.w", "layers.2.w", "norm.weight", "head.weight"}
	got := LayerPositions(stack)
	want := map[string]float64{"embed.weight": 0, "layers.0.w": 0, "layers.0.b": 0, "layers.1.w": 1.0 / 3, "layers.2.w": 2.0 / 3, "layers.10.w": 1, "norm.weight": 1, "head.weight": 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stack: %v\nwant %v", got, want)
	}
	cnn := []string{"conv1.weight", "conv1.bias", "conv2.weight", "fc.weight", "fc.bias", "step"}
	got = LayerPositions(cnn)
	want = map[string]float64{"conv1.weight": 0, "conv1.bias": 0, "conv2.weight": 1.0 / 3, "fc.weight": 2.0 / 3, "fc.bias": 2.0 / 3, "step": 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cnn: %v\nwant %v", got, want)
	}
	if got := LayerPositions([]string{"w"}); got["w"] != 1 {
		t.Errorf("one layer: t = %v, want 1 as mergekit", got["w"])
	}
}

// TestAdapterReference: a base with a LoRA adapter is BASE+DIR, written so or in
// mergekit's mapping form, and stays as written for the opener to split.
func TestAdapterReference(t *testing.T) {
	src := "merge_method: task_arithmetic\nbase_model: base.safetensors\nmodels:\n" +
		"  - model: base.safetensors+adapters/a\n" +
		"  - model: {model: {path: base.safetensors}, lora: {path: adapters/b}}\n"
	r, err := Parse([]byte(src), "r.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{r.Models[0].Path, r.Models[1].Path}
	want := []string{"base.safetensors+adapters/a", "base.safetensors+adapters/b"}
	if !slices.Equal(got, want) {
		t.Fatalf("paths %q, want %q", got, want)
	}
}

// mergekit's frankenmerge example (examples/orcamini-platy-44layer.yml) parses, and
// normalises to a recipe that parses to the same slices.
func TestParseSlices(t *testing.T) {
	src := `slices:
  - sources:
    - model: psmathur/orca_mini_v3_13b
      layer_range: [0, 24]
  - sources:
    - model: garage-bAInd/Platypus2-13B
      layer_range: [20, 40]
      parameters:
        scale: 0.5
    parameters:
      weight: 1
merge_method: passthrough
dtype: float16
`
	r, err := Parse([]byte(src), "r.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Slice{
		{Sources: []SliceSource{{Model: "psmathur/orca_mini_v3_13b", From: 0, To: 24, Parameters: map[string]Setting{}}}, Parameters: map[string]Setting{}},
		{Sources: []SliceSource{{Model: "garage-bAInd/Platypus2-13B", From: 20, To: 40, Parameters: map[string]Setting{"scale": Scalar(0.5)}}},
			Parameters: map[string]Setting{"weight": Scalar(1.0)}},
	}
	if !reflect.DeepEqual(r.Slices, want) {
		t.Fatalf("slices %+v, want %+v", r.Slices, want)
	}
	if got := r.ModelPaths(); !slices.Equal(got, []string{"psmathur/orca_mini_v3_13b", "garage-bAInd/Platypus2-13B"}) {
		t.Errorf("model paths %v", got)
	}
	again, err := Parse(r.Normalise(), "n.yaml", "")
	if err != nil {
		t.Fatalf("%v\n%s", err, r.Normalise())
	}
	if !reflect.DeepEqual(again.Slices, r.Slices) || string(again.Normalise()) != string(r.Normalise()) {
		t.Errorf("normalised recipe does not round-trip:\n%s", r.Normalise())
	}
}
