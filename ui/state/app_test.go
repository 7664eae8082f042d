package state

import (
	"slices"
	"strings"
	"testing"
	"time"

	"ladle/core/merge"
	"ladle/core/plan"
	"ladle/core/recipe"
)

func mnistModel(name string) ModelFile {
	return ModelFile{Name: name, Format: "pytorch", Tensors: []Tensor{
		{"conv1.weight", "F32", []int64{8, 1, 3, 3}}, {"conv1.bias", "F32", []int64{8}},
		{"fc1.weight", "F32", []int64{32, 11616}}, {"norm1.num_batches_tracked", "I64", []int64{}},
	}}
}

func parseText(text string) (*recipe.Recipe, error) { return recipe.Parse([]byte(text), "recipe", "") }

// newApp is a fresh page whose recipe check runs at once, as the command's
// (plan.Check); the page asks an engine worker instead (TestVerifyThroughTheEngine).
func newApp() *App { return withVerify(New(merge.Describe())) }

func withVerify(a *App) *App {
	a.Verify = plan.Check
	a.Parse = parseText
	a.regenerate()
	return a
}

func TestDroppingModelsMakesALinearSoupRecipe(t *testing.T) {
	a := newApp()
	if a.CanRun() {
		t.Error("Run is enabled with no models")
	}
	a.AddModels(mnistModel("run-a.pt"), mnistModel("run-b.pt"), mnistModel("run-c.safetensors"))
	if !a.CanRun() {
		t.Fatalf("cannot run: %s", a.RecipeErr)
	}
	r, err := recipe.Parse([]byte(a.RecipeText), "", "")
	if err != nil {
		t.Fatalf("the generated recipe does not parse: %v\n%s", err, a.RecipeText)
	}
	if r.MergeMethod != "linear" || len(r.Models) != 3 || r.Models[2].Path != "run-c.safetensors" {
		t.Errorf("recipe %+v", r)
	}
	if c := a.Compat(); !c.OK() || c.Shared != 4 || !strings.Contains(c.Summary(), "3 models share all 4 tensors") {
		t.Errorf("compat %+v %q", c, c.Summary())
	}
	if got := mnistModel("x").Parameters(); got != 72+8+32*11616+1 {
		t.Errorf("parameters %d", got)
	}
	if got := mnistModel("x").DTypes(); got != "F32, I64" {
		t.Errorf("dtypes %q", got)
	}
}

func TestMethodNeedingABasePicksOne(t *testing.T) {
	a := newApp()
	a.AddModels(mnistModel("base.pt"), mnistModel("a.pt"), mnistModel("b.pt"))
	a.SetMethod("ties")
	if a.Form.Base != "base.pt" {
		t.Fatalf("base %q", a.Form.Base)
	}
	a.SetParam("a.pt", "density", "0.5")
	a.SetParam("b.pt", "weight", "0.2, 0.8")
	a.SetParam("", "lambda", "1.5")
	a.SetParam("", "trim_scope", "model")
	a.SetSeed("7")
	r, err := recipe.Parse([]byte(a.RecipeText), "", "")
	if err != nil || !a.CanRun() {
		t.Fatalf("%v / %s\n%s", err, a.RecipeErr, a.RecipeText)
	}
	if r.BaseModel != "base.pt" || len(r.Models) != 2 || r.Ladle.TrimScope != "model" || r.Ladle.Seed != 7 {
		t.Errorf("recipe:\n%s", a.RecipeText)
	}
	if s := r.Models[1].Parameters["weight"]; len(s.Gradient) != 2 {
		t.Errorf("the weight gradient became %v", s)
	}
	a.SetMethod("linear")
	if a.Form.Base != "" || strings.Contains(a.RecipeText, "base_model") {
		t.Errorf("linear kept a base:\n%s", a.RecipeText)
	}
	if !strings.Contains(a.RecipeText, "weight: [0.2, 0.8]") {
		t.Errorf("switching method lost the typed weight:\n%s", a.RecipeText)
	}
}

func TestFieldErrorsBlockRun(t *testing.T) {
	a := newApp()
	a.AddModels(mnistModel("base.pt"), mnistModel("a.pt"))
	a.SetMethod("ties")
	a.SetParam("a.pt", "density", "1.5")
	fields := a.Fields("a.pt")
	var density Field
	for _, f := range fields {
		if f.Param.Name == "density" {
			density = f
		}
	}
	if density.Error == "" || !strings.Contains(density.Error, "maximum") || a.CanRun() {
		t.Errorf("density 1.5: field %+v, can run %v", density, a.CanRun())
	}
	a.SetParam("a.pt", "density", "0.4x")
	if a.FieldErrors["param-a.pt-density"] == "" {
		t.Error("a half-typed number was accepted")
	}
	a.SetParam("a.pt", "density", "0.4")
	if !a.CanRun() {
		t.Errorf("cannot run after fixing: %s", a.RecipeErr)
	}
	// Global fields carry the registry's docs and defaults for the form.
	for _, f := range a.Fields("") {
		if f.Param.Doc == "" {
			t.Errorf("%s has no doc", f.Param.Name)
		}
		if f.Param.Name == "lambda" && f.Default != "1" {
			t.Errorf("lambda default %q", f.Default)
		}
	}
}

func TestEditingTheRecipe(t *testing.T) {
	a := newApp()
	a.AddModels(mnistModel("base.pt"), mnistModel("a.pt"), mnistModel("b.pt"))
	a.SetRecipeText("merge_method: task_arithmetic\nbase_model: base.pt\nmodels:\n  - model: a.pt\n    parameters: {weight: 1}\n  - model: b.pt\n    parameters: {weight: -1}\nparameters: {lambda: 0.5}\n")
	if !a.CanRun() || a.Form.Method != "task_arithmetic" || a.Form.PerModel["b.pt"]["weight"] != "-1" || a.Form.Global["lambda"] != "0.5" {
		t.Fatalf("form %+v err %q", a.Form, a.RecipeErr)
	}
	a.SetRecipeText("merge_method: task_arithmetic\nbase_model: base.pt\nmodels: [a.pt, {model: b.pt, parameters: {weight: [{filter: fc, value: -1}, {value: 1}]}}]\n")
	if !a.FormHidden || !a.CanRun() {
		t.Errorf("a filter list: hidden %v, err %q", a.FormHidden, a.RecipeErr)
	}
	for text, want := range map[string]string{
		"merge_method: [":                                "not valid YAML",
		"merge_method: tie\nmodels: [a.pt]\n":            `did you mean "ties"`,
		"merge_method: linear\nmodels: [a.pt, zzz.pt]\n": `"zzz.pt", which is not loaded`,
		"merge_method: ties\nmodels: [a.pt, b.pt]\n":     "needs a base model",
		"merge_method: slerp\nbase_model: base.pt\nmodels: [a.pt, b.pt]\nparameters: {t: 0.5}\n": "at most 1",
	} {
		a.SetRecipeText(text)
		if a.CanRun() || !strings.Contains(a.RecipeErr, want) {
			t.Errorf("%q: err %q, want %q", text, a.RecipeErr, want)
		}
		if a.RecipeText != text {
			t.Error("the typed text was not kept as typed")
		}
	}
}

func TestIncompatibleModels(t *testing.T) {
	a := newApp()
	other := mnistModel("other.pt")
	other.Tensors[2].Shape = []int64{32, 100}
	other.Tensors = other.Tensors[:3]
	a.AddModels(mnistModel("a.pt"), other, ModelFile{Name: "junk.bin", Error: "not a checkpoint Ladle can read"})
	c := a.Compat()
	if c.OK() || c.Shared != 2 || len(c.Mismatches) != 2 {
		t.Fatalf("compat %+v", c)
	}
	if a.CanRun() || !strings.Contains(a.RecipeErr, "do not line up") {
		t.Errorf("err %q", a.RecipeErr)
	}
	if slices.Contains(a.Form.Models, "junk.bin") {
		t.Error("an unreadable file was chosen for the merge")
	}
	a.RemoveModel("other.pt")
	if !a.Compat().OK() {
		t.Error("removing the odd model did not fix the merge")
	}
}

func TestRunLifecycle(t *testing.T) {
	a := newApp()
	a.AddModels(mnistModel("a.pt"), mnistModel("b.pt"))
	t0 := time.Unix(1000, 0)
	id := a.StartRun(t0)
	if a.CanRun() || !a.Run.Running {
		t.Fatal("a running merge can start again")
	}
	a.OnProgress(id, Progress{TensorsDone: 2, TensorsTotal: 4, BytesDone: 5e8, BytesTotal: 1e9}, t0.Add(2*time.Second))
	if f := a.Run.Fraction(); f != 0.5 {
		t.Errorf("fraction %v", f)
	}
	if s := a.Run.Status(); !strings.Contains(s, "2 of 4 tensors") || !strings.Contains(s, "0.25 GB/s") {
		t.Errorf("status %q", s)
	}
	a.OnProgress(id-1, Progress{TensorsDone: 9}, t0) // a stale message of an older run
	if a.Run.Progress.TensorsDone != 2 {
		t.Error("a stale progress message was applied")
	}
	a.OnDone(id, Result{Name: "soup.safetensors", URL: "blob:x", Bytes: 10}, t0.Add(4*time.Second))
	if a.Run.Running || a.Run.Result == nil || !a.CanRun() || !strings.Contains(a.Run.Status(), "Ready to download") {
		t.Errorf("after done: %+v", a.Run)
	}
	id = a.StartRun(t0)
	if a.Run.Result != nil {
		t.Error("a new run kept the old result")
	}
	a.OnCancelled(id, t0.Add(time.Second))
	if a.Run.Running || a.Run.Result != nil || a.Run.Err != "" {
		t.Errorf("after cancel: %+v", a.Run)
	}
	id = a.StartRun(t0)
	a.OnError(id, `run-b.pt: tensor "fc1.weight": ...`, t0)
	if a.Run.Err == "" || a.Run.Result != nil || a.Run.Status() != "The merge failed." {
		t.Errorf("after error: %+v", a.Run)
	}
}

// TestUnknownMethodComesFirst: a typed recipe whose method is unknown says so, with
// the nearest names, even where the text lacks more (no models yet): the method is
// what to fix first.
func TestUnknownMethodComesFirst(t *testing.T) {
	for _, text := range []string{
		"merge_method: tie\n",
		"merge_method: tie # TIES\nmodels:\n  - model: a.safetensors\n",
		"merge_method: \"tie\"\nbase_model: a.safetensors\n",
	} {
		a := newApp()
		a.SetRecipeText(text)
		if !strings.Contains(a.RecipeErr, `Unknown method "tie"`) || !strings.Contains(a.RecipeErr, "ties") {
			t.Errorf("%q: the page says %q", text, a.RecipeErr)
		}
	}
	a := newApp()
	a.SetRecipeText("merge_method: ties\n")
	if strings.Contains(a.RecipeErr, "Unknown method") || !strings.Contains(a.RecipeErr, "models") {
		t.Errorf("a known method without models: the page says %q", a.RecipeErr)
	}
}

// TestIdleStatusSaysNoMoreThanTheHint: before any run the status line says only that
// nothing has run; whether Run is ready is the hint's to say ("Ready." beside "Ready:
// press Run" repeated it, and stood beside a recipe error as if all were well).
func TestIdleStatusSaysNoMoreThanTheHint(t *testing.T) {
	a := newApp()
	a.AddModels(mnistModel("run-a.pt"), mnistModel("run-b.pt"))
	if !a.CanRun() || !strings.HasPrefix(a.Hint(), "Ready") {
		t.Fatalf("can run %v, hint %q", a.CanRun(), a.Hint())
	}
	if s := a.Run.Status(); strings.Contains(s, "Ready") {
		t.Errorf("the idle status %q repeats the hint %q", s, a.Hint())
	}
	a.SetRecipeText("merge_method: tie\n")
	if s := a.Run.Status(); a.RecipeErr == "" || strings.Contains(s, "Ready") {
		t.Errorf("beside the error %q the status says %q", a.RecipeErr, s)
	}
}
