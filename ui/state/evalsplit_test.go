package state

import (
	"strings"
	"testing"

	"ladle/core/eval"
)

func datasetModel(name string, tensors ...string) ModelFile {
	m := ModelFile{Name: name, Format: "safetensors"}
	for _, t := range tensors {
		shape := []int64{5, 4}
		if strings.HasPrefix(t, "y") {
			shape = []int64{5}
		}
		m.Tensors = append(m.Tensors, Tensor{t, "F32", shape})
	}
	return m
}

// The page resolves a greedy soup's ladle.eval.split as the command does
// (eval.SplitTensors): "test" is x/y when the file has them, else x.test/y.test.
func TestEvalSplitLikeTheCommand(t *testing.T) {
	files := [][]string{{"x", "y"}, {"x", "y", "x.val", "y.val"}, {"x.test", "y.test"}, {"x.val", "y.val"}, {"x", "y", "x.test", "y.test"}}
	for _, tensors := range files {
		d, ok := datasetOf(datasetModel("d.safetensors", tensors...))
		if !ok {
			t.Fatalf("%v is not a dataset", tensors)
		}
		for _, split := range []string{"", "test", "val", "nosuch"} {
			x, y := d.splitTensors(split)
			wx, wy := eval.SplitTensors(split, func(n string) bool { return d.tensors[n] })
			if x != wx || y != wy {
				t.Errorf("%v split %q: page %s/%s, command %s/%s", tensors, split, x, y, wx, wy)
			}
		}
	}
}

// As-you-type: a greedy soup's evaluator must name a loaded dataset with that split.
func TestGreedySoupEvalDataChecked(t *testing.T) {
	a := newApp()
	a.AddModels(mnistModel("a.pt"), mnistModel("b.pt"), datasetModel("data.safetensors", "x", "y", "x.val", "y.val"))
	for _, c := range []struct{ data, split, want string }{
		{"data.safetensors", "test", ""},
		{"data.safetensors", "val", ""},
		{"data.safetensors", "nosuch", `ladle.eval.split: data.safetensors has no split "nosuch" (tensors x.nosuch and y.nosuch); its splits: "(default)", "val"`},
		{"other.safetensors", "val", `names "other.safetensors", which is not loaded`},
		{"a.pt", "val", "a.pt is a checkpoint, not a dataset"},
	} {
		a.SetRecipeText("merge_method: greedy_soup\nmodels: [a.pt, b.pt]\nladle: {eval: {data: " + c.data + ", split: " + c.split + "}}\n")
		if c.want == "" && a.RecipeErr != "" || !strings.Contains(a.RecipeErr, c.want) {
			t.Errorf("data %s split %s: error %q, want %q", c.data, c.split, a.RecipeErr, c.want)
		}
	}
	a.SetRecipeText("merge_method: greedy_soup\nmodels: [a.pt, b.pt]\n")
	if !strings.Contains(a.RecipeErr, "ladle.eval: missing") {
		t.Errorf("a greedy soup without an evaluator: %q", a.RecipeErr)
	}
}
