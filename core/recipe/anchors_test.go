package recipe

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A mergekit config in the style people share: the base model named once with an
// anchor, shared parameter blocks merged in with `<<`, a gradient reused by alias.
// PyYAML (and so mergekit) accepts all of it; so must Ladle, with the same meaning.
const anchoredTies = `
base_model: &base mistralai/Mistral-7B-v0.1
merge_method: ties
parameters: &globals
  normalize: true
  int8_mask: true
models:
  - model: *base
  - model: OpenPipe/mistral-ft-optimized-1218
    parameters: &half
      density: 0.5
      weight: &grad [0, 0.5, 1]
  - model: mlabonne/NeuralHermes-2.5-Mistral-7B
    parameters:
      <<: *half
      weight: 0.3
  - model: teknium/OpenHermes-2.5-Mistral-7B
    parameters:
      <<: [*half, {density: 0.9, lambda: 2}]
      density: 0.7
dtype: bfloat16
`

func TestAnchorsAndMergeKeys(t *testing.T) {
	r, err := Parse([]byte(anchoredTies), "anchored.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if r.BaseModel != "mistralai/Mistral-7B-v0.1" || len(r.Models) != 4 || r.Models[0].Path != r.BaseModel {
		t.Fatalf("base %q, models %+v", r.BaseModel, r.Models)
	}
	if v, _ := r.Param("normalize", -1, "x", 0); v != true {
		t.Errorf("normalize = %v", v)
	}
	cases := []struct {
		model int
		name  string
		t     float64
		want  any
	}{
		{1, "density", 0, 0.5},
		{1, "weight", 0.5, 0.5},
		{2, "density", 0, 0.5}, // merged from *half
		{2, "weight", 1, 0.3},  // the key given beside `<<` wins
		{3, "density", 0, 0.7}, // explicit beats both merged maps
		{3, "weight", 1, 1.0},  // from the first merged map, the gradient by alias
		{3, "lambda", 0, 2.0},  // from the second
	}
	for _, c := range cases {
		if got, ok := r.Param(c.name, c.model, "x", c.t); !ok || got != c.want {
			t.Errorf("models[%d] %s at t=%v = %v, want %v", c.model, c.name, c.t, got, c.want)
		}
	}
	// The normalised form has no anchors left and parses to the same recipe.
	once := r.Normalise()
	if strings.Contains(string(once), "&") || strings.Contains(string(once), "<<") {
		t.Errorf("normalised recipe keeps anchors:\n%s", once)
	}
	if _, err := Parse(once, "", ""); err != nil {
		t.Fatal(err)
	}
}

// `<<` inside a model entry, and a whole model entry by alias, as mergekit allows.
func TestAnchoredModelEntries(t *testing.T) {
	src := `
merge_method: linear
models:
  - &first
    model: a.safetensors
    parameters: {weight: 1}
  - <<: *first
    model: b.safetensors
  - *first
`
	r, err := Parse([]byte(src), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Models) != 3 || r.Models[1].Path != "b.safetensors" || r.Models[2].Path != "a.safetensors" {
		t.Fatalf("%+v", r.Models)
	}
	if v, _ := r.Param("weight", 1, "x", 0); v != 1.0 {
		t.Errorf("merged weight %v", v)
	}
}

// Aliases that expand exponentially (a "billion laughs") end in a recipe Error at
// once, and mistakes in merged keys are still caught.
func TestAnchorAbuse(t *testing.T) {
	var b strings.Builder
	b.WriteString("merge_method: linear\nmodels: [a]\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		b.WriteString("l" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " [")
		for k := 0; k < 10; k++ {
			if k > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	b.WriteString("parameters: {quantize: {levels: *l9}}\n")
	start := time.Now()
	_, err := Parse([]byte(b.String()), "laughs.yaml", "")
	var re *Error
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want a recipe Error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	for _, c := range []struct{ src, want string }{
		{"merge_method: linear\nmodels:\n  - {<<: {modle: a}, parameters: {}}\n", `did you mean "model"`},
		{"merge_method: linear\nmodels:\n  - model: a\n    parameters: {<<: 3}\n", "<<"},
		{"merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1, weight: 2}\n", "twice"},
	} {
		_, err := Parse([]byte(c.src), "r.yaml", "")
		if !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.src, err, c.want)
		}
	}
}

// -.inf is as infinite as .inf: YAML decoded it into an int64 as -9.2e18.
func TestInfiniteParameters(t *testing.T) {
	for _, v := range []string{"-.inf", ".inf", "+.inf", "-.Inf", "-.INF", ".nan", "[0, -.inf]"} {
		src := "merge_method: linear\nmodels: [a]\nparameters: {weight: " + v + "}\n"
		_, err := Parse([]byte(src), "r.yaml", "")
		if err == nil || !strings.Contains(err.Error(), "finite") {
			t.Errorf("weight: %s: %v, want a not-finite error", v, err)
		}
	}
}
