package spec

import "testing"

// Without package recipe (the page program), Normalise is Text: the YAML library's
// text, written by hand (package recipe's tests compare the two).
func TestNormaliseWithoutTheYAMLLibrary(t *testing.T) {
	r := &Recipe{MergeMethod: "ties", BaseModel: "base.safetensors",
		Models:     []Model{{Path: "a b.pt", Parameters: map[string]Setting{"weight": {Gradient: []float64{0.2, 0.8}}, "density": Scalar(0.5)}}, {Path: "yes"}},
		Parameters: map[string]Setting{"lambda": Scalar(1.5)}}
	r.Ladle.Seed, r.Ladle.SeedSet = 7, true
	want := "merge_method: ties\nbase_model: base.safetensors\nmodels:\n    - model: a b.pt\n      parameters:\n        density: 0.5\n        weight: [0.2, 0.8]\n    - model: \"yes\"\nparameters:\n    lambda: 1.5\nladle:\n    seed: 7\n"
	if got := string(r.Normalise()); got != want || string(r.Text()) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
