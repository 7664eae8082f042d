package state

import (
	"math"
	"strings"
	"testing"

	"ladle/core/eval"
	"ladle/core/merge/info"
	"ladle/core/recipe"
)

func tensors(names ...string) []Tensor {
	var out []Tensor
	for _, n := range names {
		out = append(out, Tensor{Name: n, DType: "F32", Shape: []int64{7, 2}})
	}
	return out
}

func TestIsDataset(t *testing.T) {
	cases := []struct {
		names  []string
		want   bool
		splits string
	}{
		{[]string{"x", "y"}, true, "test"},
		{[]string{"x", "y", "x.val", "y.val", "x.blur", "y.blur"}, true, "test,blur,val"},
		{[]string{"x.val", "y.val"}, true, "val"},
		{[]string{"x", "y", "fc.weight"}, false, ""},
		{[]string{"x"}, false, ""},
		{[]string{"fc.weight", "fc.bias"}, false, ""},
		{[]string{"x.", "y."}, false, ""},
	}
	for _, c := range cases {
		m := ModelFile{Name: "d.safetensors", Tensors: tensors(c.names...)}
		if got := IsDataset(m); got != c.want {
			t.Errorf("%v: IsDataset %v", c.names, got)
		}
		if d, ok := datasetOf(m); ok && strings.Join(d.Splits, ",") != c.splits {
			t.Errorf("%v: splits %v, want %s", c.names, d.Splits, c.splits)
		}
	}
	// a dataset goes to the datasets, is picked, and never becomes a model
	a := newApp()
	a.AddModels(ModelFile{Name: "a.safetensors", Tensors: tensors("fc.weight")}, ModelFile{Name: "d.safetensors", Tensors: tensors("x", "y", "x.val", "y.val")})
	if len(a.Models) != 1 || len(a.Datasets) != 1 || a.Eval.Dataset != "d.safetensors" || a.Eval.Split != "test" {
		t.Errorf("models %d, datasets %d, picked %q/%q", len(a.Models), len(a.Datasets), a.Eval.Dataset, a.Eval.Split)
	}
	a.SetSplit("val")
	a.RemoveModel("d.safetensors")
	if len(a.Datasets) != 0 || a.Eval.Dataset != "" {
		t.Errorf("after removing it: %v, %q", a.Datasets, a.Eval.Dataset)
	}
}

// Bars span the range of the values shown: 92.4% and 95.9% look different.
func TestBarsScaleToTheRange(t *testing.T) {
	e := Eval{Rows: []EvalRow{{Model: "a", Accuracy: "0.924"}, {Model: "b", Accuracy: "0.959"}, {Model: "c", Error: "no"}}}
	lo, hi := e.Bar(0.924), e.Bar(0.959)
	if hi != 1 || lo > 0.25 || lo <= 0 {
		t.Errorf("bars %v and %v", lo, hi)
	}
	if e.Bar(0.9415) <= lo || e.Bar(0.9415) >= hi {
		t.Errorf("a middle value's bar %v", e.Bar(0.9415))
	}
	if one := (Eval{Rows: []EvalRow{{Accuracy: "0.5"}}}); one.Bar(0.5) != 1 || one.Scale() != "" {
		t.Errorf("one row: %v %q", one.Bar(0.5), one.Scale())
	}
	if !strings.Contains(e.Scale(), "92.4%") || !strings.Contains(e.Scale(), "95.9%") {
		t.Errorf("scale %q", e.Scale())
	}
}

func TestSweepParamAndRecipe(t *testing.T) {
	cases := []struct {
		text, param string
		current     float64
		at          float64
		want        []string // substrings of the recipe at x = at
	}{
		{"merge_method: wise_ft\nmodels: [{model: a}, {model: b}]\nparameters: {alpha: 0.25}\n", "alpha", 0.25, 0.3, []string{"alpha: 0.3"}},
		{"merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a}]\nparameters: {lambda: 2.5}\n", "lambda", 2.5, 1.7, []string{"lambda: 1.7"}},
		{"merge_method: ties\nbase_model: base\nmodels: [{model: base}, {model: a, parameters: {density: 0.4}}, {model: b}]\n", "density", 0.4, 0.6,
			[]string{"- model: base\n    - model: a", "- model: a\n      parameters:\n        density: 0.6", "- model: b\n      parameters:\n        density: 0.6"}},
		{"merge_method: slerp\nbase_model: a\nmodels: [{model: a}, {model: b}]\nparameters: {t: 0.5}\n", "t", 0.5, 0.1, []string{"t: 0.1"}},
		{"merge_method: linear\nmodels: [{model: a, parameters: {weight: 3}}, {model: b}]\n", "weight", 0.25, 0.3,
			[]string{"- model: a\n      parameters:\n        weight: 0.7", "- model: b\n      parameters:\n        weight: 0.3"}},
		// the round-2 methods' main scalars, from the registry
		{"merge_method: nuslerp\nbase_model: base\nmodels: [{model: base}, {model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 3}}]\n", "weight", 0.75, 0.2,
			[]string{"- model: base\n    - model: a", "- model: a\n      parameters:\n        weight: 0.8", "- model: b\n      parameters:\n        weight: 0.2"}},
		{"merge_method: pcb\nbase_model: base\nmodels: [{model: a}, {model: b}]\n", "density", 0.1, 0.4, []string{"density: 0.4"}},
		{"merge_method: tsv_merge\nbase_model: base\nmodels: [{model: a}, {model: b}]\nparameters: {lambda: 0.8}\n", "lambda", 0.8, 1.5, []string{"lambda: 1.5"}},
		{"merge_method: sce\nbase_model: base\nmodels: [{model: a}, {model: b}]\n", "select_topk", 1, 0.5, []string{"select_topk: 0.5"}},
	}
	for _, c := range cases {
		r, err := recipe.Parse([]byte(c.text), "r", "")
		if err != nil {
			t.Fatal(err)
		}
		p, reason, ok := SweepParamOf(r, registry(t))
		if !ok || p.Name != c.param || p.Current != c.current {
			t.Errorf("%s: %+v %q", r.MergeMethod, p, reason)
			continue
		}
		pr, err := SweepRecipe(r, p, c.at)
		if err != nil {
			t.Fatal(err)
		}
		text := string(pr.Normalise())
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s at %v:\n%s\nlacks %q", r.MergeMethod, c.at, text, w)
			}
		}
		back, err := recipe.Parse([]byte(text), "r", "")
		if err != nil {
			t.Fatal(err)
		}
		if q, _, _ := SweepParamOf(back, registry(t)); math.Abs(q.Current-c.at) > 1e-12 {
			t.Errorf("%s: the recipe at %v reads back as %v", r.MergeMethod, c.at, q.Current)
		}
	}
	r, _ := recipe.Parse([]byte("merge_method: linear\nmodels: [{model: a}, {model: b}, {model: c}]\n"), "r", "")
	if _, reason, ok := SweepParamOf(r, registry(t)); ok || !strings.Contains(reason, "3 models") {
		t.Errorf("a three-model linear merge: %q", reason)
	}
	r, _ = recipe.Parse([]byte("merge_method: karcher\nmodels: [{model: a}, {model: b}]\n"), "r", "")
	if _, reason, ok := SweepParamOf(r, registry(t)); ok || !strings.Contains(reason, "karcher has no main scalar") || !strings.Contains(reason, "tsv_merge") {
		t.Errorf("karcher: %q", reason)
	}
	r, _ = recipe.Parse([]byte("merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a}]\nparameters: {lambda: 3}\n"), "r", "")
	if p, _, _ := SweepParamOf(r, registry(t)); p.Min != 0 || p.Max != 5 || p.Label != "lambda: the scale of the summed task vectors" {
		t.Errorf("task_arithmetic at lambda 3: %+v", p)
	}
	if g := Grid(0, 1, 11); len(g) != 11 || g[3] != 0.3 || g[10] != 1 || g[0] != 0 {
		t.Errorf("grid %v", g)
	}
}

// The page's loss barrier is core/eval's.
func TestBarrierIsEvals(t *testing.T) {
	pts := []CurvePoint{{Alpha: 0.5, Loss: 0.9}, {Alpha: 0, Loss: 0.2}, {Alpha: 1, Loss: 0.3}, {Alpha: 0.25, Loss: 0.5}, {Alpha: 0.75, Loss: 0.9}}
	var ep []eval.Point
	for _, p := range pts {
		ep = append(ep, eval.Point{Alpha: p.Alpha, Loss: p.Loss})
	}
	b, at := Barrier(pts)
	wb, wat := eval.Barrier(ep)
	if b != wb || at != wat {
		t.Errorf("Barrier = %v at %v; eval.Barrier = %v at %v", b, at, wb, wat)
	}
}

func TestSweepPointsJSON(t *testing.T) {
	s := Sweep{Points: []SweepPoint{{X: 0, Accuracy: "0.5", Loss: "1.25", Done: true}, {X: 0.1, Done: false}, {X: 0.2, Error: "x", Done: true}, {X: 0.3, Accuracy: "0.75", Loss: "0.5", Done: true}}}
	if got := s.PointsJSON(); got != `[{"x":0,"accuracy":0.5,"loss":1.25},{"x":0.3,"accuracy":0.75,"loss":0.5}]` {
		t.Errorf("points %s", got)
	}
	c := s.Chart(0.3)
	if c == nil || len(c.Xs) != 2 || c.MarkX == "" || c.Xs[1] != 0.3 {
		t.Errorf("chart %+v", c)
	}
}

func TestGreedyTrace(t *testing.T) {
	meta := `{"data":"data.safetensors","split":"val","strict":false,"ingredients":["b","a"],"accuracy":0.97,
		"steps":[{"model":"b","accuracy":0.96,"kept":true},{"model":"a","accuracy":0.97,"kept":true},{"model":"c","accuracy":0.9,"kept":false}],
		"individual":[0.95,0.96,0.94]}`
	g, err := ParseGreedyTrace(meta, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Ranking) != 3 || g.Ranking[0].Model != "b" || g.Ranking[2].Model != "c" || len(g.Steps) != 3 || g.Steps[2].Kept {
		t.Errorf("trace %+v", g)
	}
	if _, err := ParseGreedyTrace("{", nil); err == nil {
		t.Error("a broken record was accepted")
	}
}

// Measure live: every figure with a model or a recipe becomes a job; a task head is
// left out with its reason; the curve's points are two-model linear recipes.
func TestLabJobs(t *testing.T) {
	a := newApp()
	lab := &Lab{Files: []string{"a.safetensors", "b.safetensors"}, Data: "d.safetensors",
		Results: LabResults{Ingredients: []Score{{Name: "a.safetensors", Model: "a.safetensors"}, {Name: "a on low (task head)", Model: "a.safetensors", Split: "low", Head: "a task head"}},
			Soups: []Score{{Name: "Soup", Recipe: "soup.yaml", Split: "val"}}},
		Curve:       []CurvePoint{{Alpha: 0}, {Alpha: 0.5}, {Alpha: 1}},
		CurveModels: []string{"a.safetensors", "b.safetensors"}}
	a.Labs.Open, a.Labs.Lab = "l", lab
	id, jobs := a.StartLabLive()
	if len(jobs) != 5 {
		t.Fatalf("%d jobs: %+v", len(jobs), jobs)
	}
	if jobs[0].Model != "a.safetensors" || jobs[0].Split != "test" || jobs[1].Recipe != "soup.yaml" || jobs[1].Split != "val" {
		t.Errorf("jobs %+v", jobs[:2])
	}
	if !strings.Contains(jobs[3].RecipeText, "weight: 0.5") || !strings.Contains(jobs[3].RecipeText, "merge_method: linear") {
		t.Errorf("curve job %+v", jobs[3])
	}
	if text, row, ok := a.LiveScore(false, 1); !ok || text != "—" || !strings.Contains(row.Error, "task head") {
		t.Errorf("task head: %q %+v", text, row)
	}
	for _, j := range jobs {
		a.OnLabJob(id, j, EvalRow{Accuracy: "0.5", Loss: "1", N: "10"})
	}
	if text, _, ok := a.LiveScore(true, 0); !ok || text != "50.00%" {
		t.Errorf("soup live %q", text)
	}
	if c := a.LiveCurve(); len(c) != 3 || c[1].Accuracy != 0.5 {
		t.Errorf("live curve %+v", c)
	}
}

// registry is the page's view of the methods, as it reads it.
func registry(t *testing.T) []info.Method {
	t.Helper()
	ms, err := info.Registry()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}
