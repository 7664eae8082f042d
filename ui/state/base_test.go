package state

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"ladle/core/merge"
	"ladle/core/plan"
	"ladle/core/recipe"
)

// An optional base (the registry's optional_base: nuslerp, multislerp, karcher) is
// offered but not forced: the form writes base_model only when one is picked, keeps
// the pick across a switch between methods that take a base, and a recipe typed with
// one keeps it when the form is edited afterwards.
func TestOptionalBaseIsPickedOrNot(t *testing.T) {
	a := newApp()
	a.AddModels(mnistModel("base.pt"), mnistModel("a.pt"), mnistModel("b.pt"))
	var optional []string
	for _, m := range a.Methods {
		if m.OptionalBase {
			optional = append(optional, m.Name)
		}
	}
	if len(optional) == 0 {
		t.Fatal("no method in the registry takes an optional base")
	}
	for _, name := range optional {
		a.SetBase("")
		a.SetMethod(name)
		if !a.TakesBase() || a.NeedsBase() {
			t.Errorf("%s: TakesBase %v, NeedsBase %v", name, a.TakesBase(), a.NeedsBase())
		}
		if a.Form.Base != "" || strings.Contains(a.RecipeText, "base_model") {
			t.Errorf("%s picked a base by itself:\n%s", name, a.RecipeText)
		}
	}
	a.SetMethod("nuslerp")
	if a.CanRun() {
		t.Errorf("nuslerp of three models without a base can run:\n%s", a.RecipeText)
	}
	a.SetBase("base.pt")
	r, err := recipe.Parse([]byte(a.RecipeText), "", "")
	if err != nil || !a.CanRun() {
		t.Fatalf("%v / %s\n%s", err, a.RecipeErr, a.RecipeText)
	}
	if r.BaseModel != "base.pt" || len(r.Models) != 2 || r.Models[0].Path != "a.pt" || r.Models[1].Path != "b.pt" {
		t.Errorf("nuslerp with a base:\n%s", a.RecipeText)
	}
	if err := checkAlone(r); err != nil {
		t.Errorf("the page's check refuses the form's recipe: %v\n%s", err, a.RecipeText)
	}
	a.SetMethod("multislerp") // optional base too: the pick stays
	if a.Form.Base != "base.pt" || !strings.Contains(a.RecipeText, "base_model: base.pt") {
		t.Errorf("switching to multislerp dropped the base:\n%s", a.RecipeText)
	}
	a.SetMethod("linear") // takes none
	if a.Form.Base != "" || strings.Contains(a.RecipeText, "base_model") {
		t.Errorf("linear kept the base:\n%s", a.RecipeText)
	}
	a.ToggleModel("base.pt")
	a.SetMethod("nuslerp")
	a.SetBase("")
	if !a.CanRun() || strings.Contains(a.RecipeText, "base_model") {
		t.Errorf("nuslerp of two models without a base: %s\n%s", a.RecipeErr, a.RecipeText)
	}
	// A typed recipe with an optional base keeps it through form edits.
	a.SetRecipeText("merge_method: nuslerp\nbase_model: base.pt\nmodels: [a.pt, b.pt]\n")
	a.SetParam("", "nuslerp_flatten", "false")
	if !strings.Contains(a.RecipeText, "base_model: base.pt") || strings.Count(a.RecipeText, "base.pt") != 1 || !a.CanRun() {
		t.Errorf("a form edit lost the typed base (%s):\n%s", a.RecipeErr, a.RecipeText)
	}
}

func checkAlone(r *recipe.Recipe) error {
	a := &App{Methods: merge.Describe(), Verify: plan.Check, Parse: parseText}
	a.Models = []ModelFile{mnistModel("base.pt"), mnistModel("a.pt"), mnistModel("b.pt")}
	if msg := a.check(r); msg != "" {
		return &checkErr{msg}
	}
	return nil
}

type checkErr struct{ msg string }

func (e *checkErr) Error() string { return e.msg }

// Models that do not line up are refused unless the registry says the method takes
// partial models (RWS signatures): the property decides, not the method's name.
func TestPartialModelsComeFromTheRegistry(t *testing.T) {
	sig := ModelFile{Name: "sig.safetensors", Format: "safetensors", Tensors: []Tensor{{"conv1.weight", "U8", []int64{8, 1, 3, 3}}}}
	for _, c := range []struct {
		method  string
		partial bool
	}{{"rws_patch", true}, {"rws_patch", false}, {"task_arithmetic", true}, {"task_arithmetic", false}} {
		methods := merge.Describe()
		for i := range methods {
			if methods[i].Name == c.method {
				methods[i].PartialModels = c.partial
			}
		}
		a := withVerify(New(methods))
		a.AddModels(mnistModel("base.pt"), sig)
		a.SetRecipeText("merge_method: " + c.method + "\nbase_model: base.pt\nmodels: [sig.safetensors]\n")
		if refused := strings.Contains(a.RecipeErr, "do not line up"); refused == c.partial {
			t.Errorf("%s with partial_models %v: error %q", c.method, c.partial, a.RecipeErr)
		}
	}
}

// No file of the page (ui/state, ui, wasm/app) decides by a method's name what the
// registry can say: its Go code holds no registered method name (or a prefix such as
// "rws_") as a string literal, except the form's first method and the interpolation
// recipes (the sweeps' main scalars come from the registry).
func TestNoMethodNamesInThePage(t *testing.T) {
	allowed := map[string]map[string]bool{
		"app.go":     {"linear": true}, // the fresh page's method
		"sweep.go":   {"linear": true}, // the interpolation between two models
		"labeval.go": {"linear": true}, // the interpolation between a lab's two models
	}
	names := map[string]bool{}
	for _, n := range merge.Names() {
		names[n] = true
	}
	var files []string
	for _, dir := range []string{".", "..", "../../wasm/app"} {
		fs, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		files = append(files, fs...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d Go files of the page", len(files))
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for name := range names {
				if s == name || (len(s) > 1 && strings.HasSuffix(s, "_") && strings.HasPrefix(name, s)) { // "ties" or "rws_"
					allow, listed := allowed[filepath.Base(f)]
					if filepath.Dir(f) != "." {
						listed = false
					}
					if listed && (allow == nil || allow[name]) {
						continue
					}
					t.Errorf("%s holds the method name %q: ask the registry (merge.MethodInfo) instead", f, s)
				}
			}
			return true
		})
	}
}

// Without Verify and Parse (the page), the command's check is asked of the engine:
// Run waits for its answer, which becomes the recipe's error; an answer for an older
// text is only remembered, and a remembered answer is used at once. A typed text is
// parsed by the engine too: the form follows it once the answer is in.
func TestVerifyThroughTheEngine(t *testing.T) {
	a := New(merge.Describe())
	a.AddModels(mnistModel("base.pt"), mnistModel("a.pt"))
	a.SetMethod("ties")
	text := a.RecipeText
	if a.Verifying != text || a.CanRun() || a.RecipeErr != "" || a.Hint() != "Checking the recipe…" {
		t.Fatalf("verifying %q, can run %v, error %q, hint %q", a.Verifying, a.CanRun(), a.RecipeErr, a.Hint())
	}
	a.OnChecked(text, mustParse(t, text), "")
	if a.Verifying != "" || !a.CanRun() {
		t.Fatalf("after the engine's pass: verifying %q, error %q", a.Verifying, a.RecipeErr)
	}
	bad := "merge_method: ties\nbase_model: base.pt\nmodels: [a.pt]\nparameters: {lamda: 2}\n"
	a.SetRecipeText(bad)
	if a.Verifying != bad || a.CanRun() {
		t.Fatalf("typed: verifying %q", a.Verifying)
	}
	a.OnChecked("merge_method: linear\n", mustParse(t, "merge_method: linear\nmodels: [a.pt]\n"), "stale") // an answer for another text: ignored
	if a.Verifying != bad || a.RecipeErr != "" {
		t.Errorf("a stale answer was taken: verifying %q, error %q", a.Verifying, a.RecipeErr)
	}
	if a.Form.Global["lamda"] != "" {
		t.Error("the form followed a text before it was parsed")
	}
	r := mustParse(t, bad)
	want := plan.Check(r).Error()
	a.OnChecked(bad, r, want)
	if a.RecipeErr != want || a.CanRun() || a.Form.Global["lamda"] != "2" {
		t.Errorf("error %q, want %q; form %+v", a.RecipeErr, want, a.Form.Global)
	}
	broken := "merge_method: [\n"
	a.SetRecipeText(broken)
	_, perr := recipe.Parse([]byte(broken), "recipe", "")
	a.OnChecked(broken, nil, perr.Error())
	if a.RecipeErr != perr.Error() || a.ShowForm() || a.CanRun() {
		t.Errorf("a text that does not parse: error %q, form shown %v", a.RecipeErr, a.ShowForm())
	}
	a.SetRecipeText(text) // answered before: no new request
	if a.Verifying != "" || !a.CanRun() {
		t.Errorf("a remembered answer was asked again: verifying %q, error %q", a.Verifying, a.RecipeErr)
	}
}

func mustParse(t *testing.T, text string) *recipe.Recipe {
	t.Helper()
	r, err := recipe.Parse([]byte(text), "recipe", "")
	if err != nil {
		t.Fatal(err)
	}
	return r
}
