package engine

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestMultitaskLabInTheWorker: the multitask lab's table is what the page's engine
// measures live: each task's split evaluated in the worker (the fine-tunes, the base,
// and every recipe merged in memory) gives the accuracies lab.json reports, and the
// default split (the four tasks together) their mean.
func TestMultitaskLabInTheWorker(t *testing.T) {
	dir := filepath.Join("..", "..", "public", "labs", "multitask")
	raw, err := os.ReadFile(filepath.Join(dir, "lab.json"))
	if err != nil {
		t.Skipf("the multitask lab is not bundled: %v", err)
	}
	var lab struct {
		Files []string
		Data  string
		Table struct {
			Tasks []string
			Rows  []struct {
				Name     string
				Recipe   string
				Accuracy []float64
				Average  float64
			}
		}
	}
	if err := json.Unmarshal(raw, &lab); err != nil {
		t.Fatal(err)
	}
	files := labFiles(t, "multitask", lab.Files...)
	var recipes []NamedRecipe
	for _, row := range lab.Table.Rows[2:] {
		text, err := os.ReadFile(filepath.Join(dir, row.Recipe))
		if err != nil {
			t.Fatal(err)
		}
		recipes = append(recipes, NamedRecipe{Name: row.Name, Recipe: string(text)})
	}
	h := newHost()
	e := New(h.env())
	splits := append([]string{""}, lab.Table.Tasks...)
	for s, split := range splits {
		models := []string{"base.safetensors"}
		if split != "" {
			models = append(models, "ft-"+split+".safetensors")
		}
		e.Handle(Request{Type: TypeEvaluate, ID: "e" + split, Eval: &EvalSpec{Models: models, Recipes: recipes, Data: lab.Data, Split: split}}, files)
		ans, ok := h.last(t).(Evaluated)
		if !ok {
			t.Fatalf("split %q: %#v", split, h.last(t))
		}
		got := map[string]float64{}
		n := 0.0
		for _, r := range ans.Results {
			if r.Error != "" {
				t.Fatalf("split %q, %s: %s", split, r.Model, r.Error)
			}
			got[r.Model], _ = strconv.ParseFloat(r.Accuracy, 64)
			n, _ = strconv.ParseFloat(r.N, 64)
		}
		for k, row := range lab.Table.Rows {
			want, name := row.Average, row.Name
			switch {
			case split != "":
				want = row.Accuracy[s-1]
			case k == 1:
				continue // the fine-tunes' mean is not one model's
			}
			switch k {
			case 0:
				name = "base.safetensors"
			case 1:
				name = "ft-" + split + ".safetensors"
			}
			// The trainer and package nn round differently in the last bits: one
			// sample may flip.
			if math.Abs(got[name]-want) > 1/n+1e-4 {
				t.Errorf("split %q, %s: the worker measures %v, lab.json says %v", split, row.Name, got[name], want)
			}
		}
	}
}
