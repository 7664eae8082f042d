package state

import (
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
