package state

import (
	"math"
	"strings"
	"testing"
	"time"

	"ladle/core/analyze"
)

func TestAnalysisFollowsTheRecipe(t *testing.T) {
	a := newApp()
	if a.CanAnalyze() || !strings.Contains(a.AnalysisProblem(), "Load a base") {
		t.Errorf("empty page: can analyze %v, %q", a.CanAnalyze(), a.AnalysisProblem())
	}
	a.AddModels(mnistModel("base.pt"), mnistModel("a.pt"), mnistModel("b.pt"), ModelFile{Name: "bad.pt", Error: "bad.pt: broken"})
	a.SetRecipeText("merge_method: ties\nbase_model: b.pt\nmodels:\n  - model: a.pt\n    parameters: {weight: 1, density: 0.2}\n  - model: base.pt\n    parameters: {weight: 1, density: 0.2}\n")
	if got := a.AnalysisBase(); got != "b.pt" {
		t.Errorf("base %q, want the recipe's b.pt", got)
	}
	if got := a.AnalysisModels(); strings.Join(got, ",") != "a.pt,base.pt" {
		t.Errorf("models %v", got)
	}
	if d, err := a.AnalysisDensity(); err != nil || d != 0.2 {
		t.Errorf("density %v %v, want the recipe's 0.2", d, err)
	}
	a.SetAnalysisBase("a.pt")
	if got := a.AnalysisModels(); strings.Join(got, ",") != "b.pt,base.pt" {
		t.Errorf("models with base a.pt: %v", got)
	}
	a.SetAnalysisDensity("1.5")
	if a.CanAnalyze() || !strings.Contains(a.AnalysisProblem(), "from 0 to 1") {
		t.Errorf("bad density accepted: %q", a.AnalysisProblem())
	}
	a.SetAnalysisDensity(" 0.5 ")
	id := a.StartAnalysis(time.Unix(0, 0))
	if a.CanAnalyze() {
		t.Error("Analyze enabled while running")
	}
	a.OnAnalysisProgress(id, Progress{TensorsDone: 1, TensorsTotal: 2})
	a.OnAnalyzed(id-1, "x", 1, &analyze.Result{}, time.Unix(1, 0)) // a stale answer
	if a.Analysis.Result != nil {
		t.Error("a stale answer was taken")
	}
	a.OnAnalyzed(id, "a.pt", 0.5, &analyze.Result{Models: []string{"base.pt"}}, time.Unix(2, 0))
	if a.Analysis.Running || a.Analysis.Result == nil || a.Analysis.Seconds != 2 || a.Analysis.ForDensity != 0.5 {
		t.Errorf("after the answer: %+v", a.Analysis)
	}
	a.Analysis.Result.Models = a.AnalysisModels()
	a.Analysis.ForModels = a.AnalysisModels()
	if a.AnalysisStale() {
		t.Error("a fresh analysis is stale")
	}
	a.SetAnalysisDensity("0.6")
	if !a.AnalysisStale() {
		t.Error("another density: the analysis is not marked stale")
	}
	a.SetAnalysisDensity("0.5")
	a.SetAnalysisBase("b.pt")
	if !a.AnalysisStale() {
		t.Error("another base: the analysis is not marked stale")
	}
	a.SetAnalysisBase("a.pt")
	id = a.StartAnalysis(time.Unix(3, 0))
	a.OnAnalysisEnd(id, "The analysis failed: x")
	if a.Analysis.Running || a.Analysis.Err == "" {
		t.Errorf("after an error: %+v", a.Analysis)
	}
}

func TestRecipeDensityDefaults(t *testing.T) {
	a := newApp()
	for text, want := range map[string]float64{
		"merge_method: ties\nmodels:\n  - model: a\n    parameters: {density: 0.2}\n  - model: b\n    parameters: {density: 0.3}\n": 1,
		"merge_method: ties\nparameters: {density: 0.7}\nmodels:\n  - model: a\n":                                                   0.7,
		"merge_method: linear\nmodels:\n  - model: a\n":                                                                             1,
		"not: [valid": 1,
	} {
		a.SetRecipeText(text)
		if got := a.RecipeDensity(); got != want {
			t.Errorf("%q: density %v, want %v", text, got, want)
		}
	}
}

func TestJSONNumberAndHeat(t *testing.T) {
	for v, want := range map[float64]string{0.1: "0.1", 1: "1", 1e-7: "1e-7", -0.5: "-0.5", 1e21: "1e+21", 0.07123456789012345: "0.07123456789012345"} {
		if got := JSONNumber(v); got != want {
			t.Errorf("JSONNumber(%v) = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[float64]string{-1: "heat-0", 0: "heat-5", 1: "heat-10", 0.31: "heat-7", 2: "heat-10"} {
		if got := HeatClass(v); got != want {
			t.Errorf("HeatClass(%v) = %q, want %q", v, got, want)
		}
	}
}

// A result is withdrawn once what produced it changes; a failed run's error too.
func TestResultWithdrawnWhenItsRecipeChanges(t *testing.T) {
	a := newApp()
	var discarded []string
	a.OnDiscard = func(url string) { discarded = append(discarded, url) }
	a.AddModels(mnistModel("a.pt"), mnistModel("b.pt"))
	done := func() {
		id := a.StartRun(time.Unix(0, 0))
		a.OnDone(id, Result{Name: "x", URL: "blob:1"}, time.Unix(1, 0))
	}
	done()
	a.SetParam("b.pt", "weight", "2")
	if a.Run.Result != nil || len(discarded) != 1 {
		t.Errorf("after a change in the form: result %+v, discarded %v", a.Run.Result, discarded)
	}
	done()
	a.SetRecipeText(a.RecipeText) // the same text: nothing changed
	if a.Run.Result == nil {
		t.Error("the same recipe text withdrew the result")
	}
	a.SetMethod("slerp")
	if a.Run.Result != nil {
		t.Error("after a change of method the result is still offered")
	}
	a.SetMethod("linear")
	id := a.StartRun(time.Unix(0, 0))
	a.OnError(id, "boom", time.Unix(1, 0))
	a.SetRecipeText(a.RecipeText + "# fixed\n")
	if len(a.Errors()) != 0 {
		t.Errorf("the run's error outlived its recipe: %q", a.Errors())
	}
	id = a.StartRun(time.Unix(0, 0))
	a.SetRecipeText(a.RecipeText + "# edited during the run\n")
	a.OnDone(id, Result{URL: "blob:2"}, time.Unix(1, 0))
	if a.Run.Result != nil || !strings.Contains(a.Run.Status(), "changed while merging") || discarded[len(discarded)-1] != "blob:2" {
		t.Errorf("a result of an edited recipe: %+v %q", a.Run.Result, a.Run.Status())
	}
	done()
	a.AddModels(mnistModel("c.pt"))
	if a.Run.Result != nil {
		t.Error("after adding a file the result is still offered")
	}
}

func TestLabModelsReplaceThePreviousLab(t *testing.T) {
	a := newApp()
	a.AddModels(mnistModel("mine.pt"))
	a.LabModels([]ModelFile{mnistModel("x.pt"), mnistModel("data.st")})
	dropped := a.LabModels([]ModelFile{mnistModel("y.pt"), mnistModel("data.st")})
	var names []string
	for _, m := range a.Models {
		names = append(names, m.Name)
	}
	if strings.Join(names, ",") != "mine.pt,data.st,y.pt" || strings.Join(dropped, ",") != "x.pt" {
		t.Errorf("models %v, dropped %v", names, dropped)
	}
	a.ClearModels()
	if len(a.Models) != 0 || len(a.Form.Models) != 0 || a.CanRun() {
		t.Errorf("after clear all: %+v", a.Form)
	}
}

func TestSeedIsOneField(t *testing.T) {
	a := newApp()
	a.AddModels(mnistModel("base.pt"), mnistModel("a.pt"), mnistModel("b.pt"))
	a.SetMethod("dare_ties")
	for _, f := range a.Fields("") {
		if f.Param.Name == "seed" {
			t.Error("the form lists seed as a parameter field besides the seed input")
		}
	}
	a.SetSeed("7")
	if !strings.Contains(a.RecipeText, "seed: 7") {
		t.Errorf("the seed does not reach the recipe:\n%s", a.RecipeText)
	}
}

func TestTypedRecipeIsCheckedLikeTheForm(t *testing.T) {
	a := newApp()
	a.AddModels(mnistModel("base.pt"), mnistModel("a.pt"), mnistModel("b.pt"))
	a.SetMethod("ties")
	a.SetParam("a.pt", "density", "2")
	formMsg := a.FieldErrors["param-a.pt-density"]
	a.SetRecipeText("merge_method: ties\nbase_model: base.pt\nmodels:\n  - model: a.pt\n    parameters: {weight: 1, density: 2}\n  - model: b.pt\n")
	if formMsg == "" || !strings.Contains(a.RecipeErr, formMsg) || a.CanRun() {
		t.Errorf("typed: %q; the form says %q", a.RecipeErr, formMsg)
	}
}

func TestResultName(t *testing.T) {
	a := newApp()
	for text, want := range map[string]string{
		"merge_method: ties\nbase_model: base.safetensors\nmodels:\n  - model: base.safetensors\n  - model: task-low.safetensors\n  - model: dir/task-high.pt\n": "ties-task-low+task-high.safetensors",
		"merge_method: linear\nmodels: [a.pt, b.bin, c.safetensors]\n":                                                                                           "linear-a+b+c.safetensors",
		"merge_method: linear\nmodels: [\"x:y?.pt\", b.bin]\n":                                                                                                   "linear-x_y_+b.safetensors",
		"merge_method: linear\nmodels: [a.pt, b.bin, c.safetensors, \"d.pt\"]\n":                                                                                 "linear-a+b+2-more.safetensors",
		"merge_method: [oops": "merged.safetensors",
	} {
		a.SetRecipeText(text)
		if got := a.ResultName(); got != want {
			t.Errorf("%q: %q, want %q", text, got, want)
		}
	}
}

func TestCellText(t *testing.T) {
	for v, want := range map[float64]string{-0.001: "0.00", math.Copysign(0, -1): "0.00", 0: "0.00", -0.005001: "-0.01", 0.996: "1.00", -1: "-1.00", 0.25: "0.25"} {
		if got := CellText(v); got != want {
			t.Errorf("CellText(%v) = %q, want %q", v, got, want)
		}
	}
}
