package state

import (
	"strings"
	"testing"
	"time"
)

func TestErrorsAndHints(t *testing.T) {
	a := newApp()
	if errs := a.Errors(); len(errs) != 0 {
		t.Errorf("a fresh page shows errors: %q", errs)
	}
	if a.Hint() == "" {
		t.Error("a fresh page gives no hint")
	}
	a.AddModels(mnistModel("a.pt"), mnistModel("b.pt"), ModelFile{Name: "bad.safetensors", Error: "bad.safetensors: the header is not valid JSON"})
	errs := a.Errors()
	if len(errs) != 1 || errs[0] != "bad.safetensors cannot be read: the header is not valid JSON" {
		t.Errorf("errors %q", errs)
	}
	if !a.CanRun() {
		t.Errorf("an unreadable file blocks the merge of the others: %s", a.RecipeErr)
	}
	a.RemoveModel("bad.safetensors")
	if len(a.Errors()) != 0 || !strings.Contains(a.Hint(), "Run") {
		t.Errorf("after removing it: %q, hint %q", a.Errors(), a.Hint())
	}
	a.SetRecipeText("merge_method: [")
	if errs := a.Errors(); len(errs) != 1 || !strings.Contains(errs[0], "YAML") || a.ShowForm() {
		t.Errorf("a broken recipe: %q", errs)
	}
	// a typed recipe with no models loaded says so
	b := newApp()
	b.SetRecipeText("merge_method: linear\nmodels: []\n")
	if errs := b.Errors(); len(errs) != 1 {
		t.Errorf("typed recipe, no models: %q", errs)
	}
	b.SetNotice("The lab could not be loaded.")
	if errs := b.Errors(); len(errs) != 2 || errs[0] != "The lab could not be loaded." {
		t.Errorf("notice: %q", errs)
	}
}

func TestRunErrorAndCancelStatus(t *testing.T) {
	a := newApp()
	a.AddModels(mnistModel("a.pt"), mnistModel("b.pt"))
	t0 := time.Unix(0, 0)
	id := a.StartRun(t0)
	a.SetWorkers(id, 3)
	a.OnProgress(id, Progress{TensorsDone: 1, TensorsTotal: 4, BytesDone: 10, BytesTotal: 40}, t0.Add(time.Second))
	if s := a.Run.Status(); !strings.Contains(s, "on 3 workers") {
		t.Errorf("status %q", s)
	}
	if len(a.Errors()) != 0 {
		t.Errorf("errors while running: %q", a.Errors())
	}
	a.CancelRun(id)
	if s := a.Run.Status(); !strings.Contains(s, "Cancelling") {
		t.Errorf("status %q", s)
	}
	a.OnCancelled(id, t0.Add(2*time.Second))
	if s := a.Run.Status(); !strings.Contains(strings.ToLower(s), "cancelled") || a.Run.Result != nil || !a.CanRun() {
		t.Errorf("after cancel: %q %+v", s, a.Run)
	}
	id = a.StartRun(t0)
	if a.Run.Cancelled {
		t.Error("a new run is still marked cancelled")
	}
	a.OnError(id, `run-b.pt: tensor "fc1.weight": shapes differ`, t0)
	if errs := a.Errors(); len(errs) != 1 || !strings.Contains(errs[0], "run-b.pt") {
		t.Errorf("run error: %q", errs)
	}
}

func TestParts(t *testing.T) {
	if WorkerCount(0) != 1 || WorkerCount(2) != 2 || WorkerCount(64) != MaxWorkers {
		t.Error("worker count")
	}
	s := NewParts(2)
	if p := s.Update(0, Progress{TensorsDone: 3, TensorsTotal: 10, BytesDone: 30, BytesTotal: 100, Tensor: "x"}); p.BytesTotal != 0 || p.TensorsTotal != 0 {
		t.Errorf("one part of two reported, and the totals show already (they would grow later): %+v", p)
	}
	p := s.Update(1, Progress{TensorsDone: 7, TensorsTotal: 10, BytesDone: 10, BytesTotal: 100})
	if p.BytesDone != 40 || p.BytesTotal != 200 || p.TensorsDone != 5 || p.TensorsTotal != 10 || p.Tensor != "x" {
		t.Errorf("aggregate %+v", p)
	}
	s.Finish(0)
	p = s.Finish(1)
	if p.BytesDone != p.BytesTotal || p.TensorsDone != 10 {
		t.Errorf("finished %+v", p)
	}
}

func TestPaperLinkAndFieldText(t *testing.T) {
	text, url := PaperLink("Model Breadcrumbs: Scaling (Davari and Belilovsky, 2024), https://arxiv.org/abs/2312.06795")
	if url != "https://arxiv.org/abs/2312.06795" || text != "Model Breadcrumbs: Scaling (Davari and Belilovsky, 2024)" {
		t.Errorf("%q %q", text, url)
	}
	if text, url := PaperLink("none"); text != "none" || url != "" {
		t.Errorf("%q %q", text, url)
	}
	a := newApp()
	a.AddModels(mnistModel("base.pt"), mnistModel("a.pt"))
	a.SetMethod("ties")
	if !a.NeedsBase() {
		t.Error("ties needs a base")
	}
	for _, f := range a.Fields("a.pt") {
		if f.Param.Name == "density" && (f.Range() != "0 to 1" || f.Placeholder() == "") {
			t.Errorf("density: range %q placeholder %q", f.Range(), f.Placeholder())
		}
	}
}

const labJSON = `{"title": "Soups", "summary": "s", "try": ["t"], "expect": ["e"],
 "files": ["a.safetensors", "b.safetensors"], "data": "d.safetensors",
 "recipes": [{"name": "Uniform", "file": "uniform.yaml"}],
 "results": {"ingredients": [{"name": "a.safetensors", "accuracy": 0.9}], "soups": [{"name": "Uniform", "accuracy": 0.93}]},
 "curve": [{"alpha": 0, "loss": 0.3, "accuracy": 0.9}, {"alpha": 1, "loss": 0.35, "accuracy": 0.88}, {"alpha": 0.5, "loss": 0.2, "accuracy": 0.95}],
 "extra": "ignored"}`

func TestLabs(t *testing.T) {
	list, err := ParseLabIndex([]byte(`[{"name": "soup", "title": "Soup", "summary": "x"}, {"name": "b"}]`))
	if err != nil || len(list) != 2 || list[1].Title != "b" {
		t.Fatalf("%v %+v", err, list)
	}
	for _, bad := range []string{`{}`, `[{"name": "../x"}]`, `[{"name": "a/b"}]`, `[{"name": "a"}, {"name": "a"}]`} {
		if _, err := ParseLabIndex([]byte(bad)); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
	lab, err := ParseLab("soup", []byte(labJSON))
	if err != nil || len(lab.Files) != 2 || lab.Recipes[0].File != "uniform.yaml" || len(lab.Curve) != 3 {
		t.Fatalf("%v %+v", err, lab)
	}
	for _, bad := range []string{
		`{"files": []}`,
		`{"files": ["../../etc/passwd"]}`,
		`{"files": ["a"], "recipes": [{"file": "/x.yaml"}]}`,
		`{"files": ["a"], "results": {"soups": [{"name": "x", "accuracy": 93}]}}`,
	} {
		if _, err := ParseLab("x", []byte(bad)); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
	a := newApp()
	a.SetLabIndex(nil, nil)
	if !a.Labs.Loaded || len(a.Labs.List) != 0 {
		t.Error("no labs")
	}
	a.LabStarted("soup")
	a.AddModels(mnistModel("a.safetensors"), mnistModel("b.safetensors"))
	a.LabLoaded("soup", lab, "merge_method: linear\nmodels: [a.safetensors, b.safetensors]\n")
	if a.Labs.Loading != "" || a.Labs.Open != "soup" || !a.CanRun() || !strings.Contains(a.RecipeText, "b.safetensors") {
		t.Errorf("lab loaded: %+v %q", a.Labs, a.RecipeErr)
	}
	a.LabFailed("other", errString("404"))
	if errs := a.Errors(); len(errs) != 1 || !strings.Contains(errs[0], "other") {
		t.Errorf("%q", errs)
	}
	if Best(lab.Results.Soups) != 0.93 || Percent(0.931) != "93.1%" {
		t.Error("best / percent")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestCurveChart(t *testing.T) {
	lab, _ := ParseLab("soup", []byte(labJSON))
	c := CurveChart(lab.Curve)
	if c == nil || len(c.AccDots) != 3 || len(c.XTicks) != 5 || len(c.LossTicks) != 5 {
		t.Fatalf("%+v", c)
	}
	// sorted by alpha: the middle point is alpha 0.5, the best accuracy
	if c.AccDots[1].Label != "alpha 0.5: accuracy 95.0%" || !strings.Contains(c.Summary, "95.0%") || !strings.Contains(c.Summary, "alpha 0.5") {
		t.Errorf("dots %+v summary %q", c.AccDots, c.Summary)
	}
	if !strings.HasPrefix(c.AccPoints, "52.0,") || strings.Count(c.LossPoints, ",") != 3 {
		t.Errorf("points %q / %q", c.AccPoints, c.LossPoints)
	}
	if c.XTicks[0].Label != "0" || c.XTicks[4].Label != "1" || c.LossTicks[4].Label != "0.4" {
		t.Errorf("ticks %+v %+v", c.XTicks, c.LossTicks)
	}
	if CurveChart(lab.Curve[:1]) != nil {
		t.Error("a single point makes a chart")
	}
}
