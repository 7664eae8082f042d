package ui

import (
	"bytes"
	"ladle/core/ckpt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/vugu/vugu"
	"github.com/vugu/vugu/staticrender"

	"ladle/core/merge"
	"ladle/core/plan"
	"ladle/core/recipe"
	"ladle/ui/state"
)

// fakeHost records calls; the components only forward to it.
type fakeHost struct{ calls []string }

func (f *fakeHost) AddFiles(vugu.DOMEvent)     { f.calls = append(f.calls, "add") }
func (f *fakeHost) DropFiles(vugu.DOMEvent)    { f.calls = append(f.calls, "drop") }
func (f *fakeHost) RemoveModel(n string)       { f.calls = append(f.calls, "remove "+n) }
func (f *fakeHost) ImportRecipe(vugu.DOMEvent) { f.calls = append(f.calls, "import") }
func (f *fakeHost) ExportRecipe()              { f.calls = append(f.calls, "export") }
func (f *fakeHost) Run()                       { f.calls = append(f.calls, "run") }
func (f *fakeHost) Cancel()                    { f.calls = append(f.calls, "cancel") }
func (f *fakeHost) OpenLab(n string)           { f.calls = append(f.calls, "lab "+n) }
func (f *fakeHost) OpenLabRecipe(n string)     { f.calls = append(f.calls, "recipe "+n) }
func (f *fakeHost) ClearModels()               { f.calls = append(f.calls, "clear") }
func (f *fakeHost) Analyze()                   { f.calls = append(f.calls, "analyze") }
func (f *fakeHost) CancelAnalysis()            { f.calls = append(f.calls, "cancel analysis") }
func (f *fakeHost) Share()                     { f.calls = append(f.calls, "share") }

// render renders the page as static HTML, as the browser's DOM would hold it.
func render(t *testing.T, root *Root) string {
	t.Helper()
	env, err := vugu.NewBuildEnv()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := staticrender.New(&buf).Render(env.RunBuild(root)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func model(name string) state.ModelFile {
	return state.ModelFile{Name: name, Format: "safetensors", Size: 4200, Tensors: []state.Tensor{
		{Name: "fc1.weight", DType: "F32", Shape: []int64{32, 10}}, {Name: "fc1.bias", DType: "F32", Shape: []int64{32}},
	}}
}

var hooks = []string{"file-input", "model-list", "method-select", "recipe-editor", "run", "cancel", "progress", "status", "error", "download"}

func has(html, testid string) bool { return strings.Contains(html, `data-testid="`+testid+`"`) }

// element returns the opening tag of the element with that data-testid.
func element(t *testing.T, html, testid string) string {
	t.Helper()
	m := regexp.MustCompile(`<[a-z]+ [^>]*data-testid="` + regexp.QuoteMeta(testid) + `"[^>]*>`).FindString(html)
	if m == "" {
		t.Fatalf("no element with data-testid=%s", testid)
	}
	return m
}

func TestPageHooksAndCSP(t *testing.T) {
	app := state.New(merge.Describe())
	root := NewRoot(app, &fakeHost{})
	html := render(t, root)
	for _, id := range hooks {
		if !has(html, id) {
			t.Errorf("the page has no data-testid=%s", id)
		}
	}
	for _, bad := range []string{"style=", "<style", "<script", "javascript:", `src="http`, "<link", "<iframe", "<img"} {
		if strings.Contains(html, bad) {
			t.Errorf("the page holds %q, which the CSP or the privacy rule forbids", bad)
		}
	}
	if e := element(t, html, "error"); !strings.Contains(e, "hidden") {
		t.Errorf("the error box shows on a fresh page: %s", e)
	}
	if d := element(t, html, "download"); strings.Contains(d, "href=") {
		t.Errorf("download has an href before any result: %s", d)
	}
	if r := element(t, html, "run"); !strings.Contains(r, "disabled") {
		t.Errorf("run is enabled with nothing loaded: %s", r)
	}
	if !strings.Contains(html, "Looking for bundled labs") {
		t.Error("no labs message before the index is read")
	}
	if f := element(t, html, "file-input"); !strings.Contains(f, "multiple") || !strings.Contains(f, `type="file"`) {
		t.Errorf("file input: %s", f)
	}
	if !strings.Contains(html, "webkitdirectory") {
		t.Error("no folder picker")
	}
	if e := element(t, html, "progress"); !strings.Contains(e, "aria-valuenow") {
		t.Errorf("progress: %s", e)
	}
	if e := element(t, html, "status"); !strings.Contains(e, `aria-live="polite"`) {
		t.Errorf("status: %s", e)
	}
}

func TestPageWithModelsRunAndLab(t *testing.T) {
	app := state.New(merge.Describe())
	app.Verify = plan.Check // the command's parse and check at once (the page asks an engine worker)
	app.Parse = func(text string) (*recipe.Recipe, error) { return recipe.Parse([]byte(text), "recipe", "") }
	root := NewRoot(app, &fakeHost{})
	app.SetLabIndex(nil, nil)
	html := render(t, root)
	if !strings.Contains(html, state.NoLabs) {
		t.Error("no 'no labs' message")
	}
	app.AddModels(model("base.safetensors"), model("a.safetensors"), model("b.safetensors"),
		state.ModelFile{Name: "junk.bin", Size: 3, Error: "not a checkpoint Ladle can read"})
	app.SetMethod("ties")
	html = render(t, root)
	for _, want := range []string{"base.safetensors", "a.safetensors", "junk.bin", "3 models share all 2 tensors", "base-select",
		"Paper:", "https://arxiv.org", `id="param-a_2esafetensors-density"`, "0 to 1"} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if e := element(t, html, "error"); strings.Contains(e, "hidden") || !strings.Contains(html, "junk.bin cannot be read") {
		t.Errorf("the unreadable file is not shown as an error: %s", e)
	}
	if strings.Contains(html, `id="param-base_2esafetensors-density"`) {
		t.Error("the base model gets per-model fields")
	}
	if r := element(t, html, "run"); strings.Contains(r, "disabled") {
		t.Errorf("run is disabled: %s (%s)", r, app.RecipeErr)
	}
	// a finished run offers its result
	id := app.StartRun(app.Run.Started)
	app.OnDone(id, state.Result{Name: "merged.safetensors", URL: "blob:x", Bytes: 1234}, app.Run.Started)
	html = render(t, root)
	if d := element(t, html, "download"); !strings.Contains(d, `href="blob:x"`) || !strings.Contains(d, `download="merged.safetensors"`) {
		t.Errorf("download: %s", d)
	}
	// a lab with numbers and a curve
	app.SetLabIndex([]state.LabEntry{{Name: "soup", Title: "Soup", Summary: "s"}}, nil)
	lab, err := state.ParseLab("soup", []byte(`{"title": "Soup lab", "files": ["a.safetensors"],
		"results": {"ingredients": [{"name": "a.safetensors", "accuracy": 0.9}], "soups": [{"name": "Uniform", "accuracy": 0.93}]},
		"curve": [{"alpha": 0, "loss": 0.3, "accuracy": 0.9}, {"alpha": 1, "loss": 0.2, "accuracy": 0.95}]}`))
	if err != nil {
		t.Fatal(err)
	}
	app.LabLoaded("soup", lab, "")
	html = render(t, root)
	for _, want := range []string{`data-testid="lab-soup"`, "Soup lab", "93.0%", "<svg", "<polyline", "alpha 1: accuracy 95.0%"} {
		if !strings.Contains(html, want) {
			t.Errorf("the lab view lacks %q", want)
		}
	}
	if strings.Contains(html, "style=") {
		t.Error("an inline style")
	}
}

func TestFolderFiles(t *testing.T) {
	models, notice := FolderFiles([]string{"m/config.json", "m/model.safetensors", "m/tokenizer.json", "m/b.pt"})
	want := []FolderModel{{Files: []int{1}, Names: []string{"model.safetensors"}}, {Files: []int{3}, Names: []string{"b.pt"}}}
	if notice != "" || !reflect.DeepEqual(models, want) {
		t.Errorf("%v %q", models, notice)
	}
	// A sharded folder is one model of its index and shards, by relative paths; a
	// checkpoint beside it is a model of its own.
	models, notice = FolderFiles([]string{"root/x.pt", "root/m/config.json", "root/m/model-00002-of-00002.safetensors",
		"root/m/model.safetensors.index.json", "root/m/model-00001-of-00002.safetensors", "root/m/sub/y.safetensors"})
	want = []FolderModel{
		{Files: []int{0}, Names: []string{"x.pt"}},
		{Files: []int{2, 3, 4}, Names: []string{"root/m/model-00002-of-00002.safetensors", "root/m/model.safetensors.index.json", "root/m/model-00001-of-00002.safetensors"}},
		{Files: []int{5}, Names: []string{"y.safetensors"}},
	}
	if notice != "" || !reflect.DeepEqual(models, want) {
		t.Errorf("sharded: %v %q", models, notice)
	}
	// A PEFT adapter folder is one model of its config and weights, named by the
	// folder's own name; a base beside it is a model of its own.
	models, notice = FolderFiles([]string{"root/base.safetensors", "root/lora-a/README.md", "root/lora-a/adapter_model.safetensors",
		"root/lora-a/adapter_config.json"})
	want = []FolderModel{
		{Files: []int{0}, Names: []string{"base.safetensors"}},
		{Files: []int{2, 3}, Names: []string{"lora-a/adapter_model.safetensors", "lora-a/adapter_config.json"}},
	}
	if notice != "" || !reflect.DeepEqual(models, want) {
		t.Errorf("adapter: %v %q", models, notice)
	}
	if _, notice := FolderFiles([]string{"README.md"}); notice == "" {
		t.Error("a folder with no checkpoint says nothing")
	}
	if domID("a b.pt") != "a_20b_2ept" || humanCount(1234567) != "1.23M" || ckpt.FormatBytes(4200) != "4.2 kB" {
		t.Error("formatting helpers")
	}
}
