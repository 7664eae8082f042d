package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/ui/engine"
)

// TestEvalMatchesEngine: the page's engine worker answers an evaluate request with
// exactly the strings `ladle eval --json` prints, for the bundled soups lab's
// checkpoints on its test and val splits, and for a recipe merged in the worker
// against `ladle merge` then `ladle eval` of the same recipe.
func TestEvalMatchesEngine(t *testing.T) {
	lab, err := filepath.Abs(filepath.Join("..", "..", "public", "labs", "soups"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(lab, "data.safetensors")); err != nil {
		t.Skip("the soups lab is not in public/labs: " + err.Error())
	}
	names := []string{"pre.safetensors", "finetune-01.safetensors", "finetune-07.safetensors", "data.safetensors"}
	var files []engine.File
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(lab, n))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, engine.File{Name: n, Size: int64(len(b)), R: bytes.NewReader(b)})
	}
	wise := "merge_method: wise_ft\nmodels:\n  - model: pre.safetensors\n  - model: finetune-07.safetensors\nparameters: {alpha: 0.3}\n"
	dir := t.TempDir()
	recipePath := filepath.Join(dir, "wise.yaml")
	if err := os.WriteFile(recipePath, []byte(strings.ReplaceAll(wise, "model: ", "model: "+lab+"/")), 0o644); err != nil {
		t.Fatal(err)
	}
	merged := filepath.Join(dir, "wise.safetensors")
	if code, _, stderr := runCLI(t, "merge", recipePath, "-o", merged); code != 0 {
		t.Fatalf("ladle merge: %s", stderr)
	}
	for _, split := range []string{"", "test", "val"} {
		var posted []any
		eng := engine.New(engine.Env{Post: func(m any) { posted = append(posted, m) }})
		eng.Handle(engine.Request{Type: engine.TypeEvaluate, ID: "e", Eval: &engine.EvalSpec{
			Models: names[:3], Recipes: []engine.NamedRecipe{{Name: "alpha=0.3", Recipe: wise}},
			Data: "data.safetensors", Split: split}}, files)
		ans, ok := posted[len(posted)-1].(engine.Evaluated)
		if !ok {
			t.Fatalf("split %q: the engine answered %#v", split, posted[len(posted)-1])
		}
		if len(ans.Results) != 4 {
			t.Fatalf("split %q: %d results for 3 models and a recipe", split, len(ans.Results))
		}
		paths := []string{filepath.Join(lab, names[0]), filepath.Join(lab, names[1]), filepath.Join(lab, names[2]), merged}
		for i, r := range ans.Results {
			args := []string{"eval", paths[i], "--data", filepath.Join(lab, "data.safetensors"), "--json"}
			if split != "" {
				args = append(args, "--split", split)
			}
			code, stdout, stderr := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("ladle %v: %s", args, stderr)
			}
			var want map[string]json.RawMessage
			if err := json.Unmarshal([]byte(stdout), &want); err != nil {
				t.Fatal(err)
			}
			if r.Error != "" || r.Accuracy != string(want["accuracy"]) || r.Loss != string(want["loss"]) || r.N != string(want["n"]) {
				t.Errorf("split %q, %s: the engine says %+v; ladle eval --json prints %s", split, r.Model, r, stdout)
			}
		}
	}
}
