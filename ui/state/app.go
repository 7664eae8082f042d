package state

import (
	"errors"
	"fmt"
	"ladle/core/ckpt"
	"slices"
	"strconv"
	"strings"
	"time"

	"ladle/core/lora/ref"
	"ladle/core/merge/info"
	recipe "ladle/core/recipe/spec"
)

// App is the whole page's state.
type App struct {
	Models  []ModelFile
	Methods []info.Method
	Form    Form

	// RecipeText is what Run uses; RecipeErr says why it cannot run, "" when it can.
	RecipeText string
	RecipeErr  string
	// FieldErrors maps a field's ID to why its text is not acceptable.
	FieldErrors map[string]string
	// FormHidden is set when the recipe uses something the form cannot show
	// (filters, objects): the editor's text then rules.
	FormHidden bool
	// Typed is set once the recipe text was typed or imported, so that its errors are
	// shown even before any model is loaded.
	Typed bool
	// Notice is an error that belongs to no model and no run (a lab that could not be
	// loaded, a recipe file that could not be read); "" when there is none.
	Notice string

	Run  Run
	Labs Labs
	// OnDiscard, when set, is called with the object URL of a result that is withdrawn
	// (its recipe or files changed), so that the host can release it.
	OnDiscard func(url string)
	// Analysis is the task-vector view (analysis.go).
	Analysis Analysis
	// Share is the share button's link; link is a workshop link waiting for its lab
	// (share.go).
	Share Share
	link  *Link

	// Datasets are the loaded dataset files (listed apart from the models); Eval the
	// evaluation's picks and scores; Greedy the trace of a greedy soup result; Sweep
	// the live curve of the method's main parameter (eval.go, sweep.go).
	Datasets []DatasetFile
	Eval     Eval
	Greedy   *GreedyTrace
	Sweep    Sweep

	// Verify, when set, is the command's own recipe check (plan.Check), run at once
	// as the recipe changes. The page leaves it nil and asks an engine worker instead,
	// so that its program does not link the planner: Verifying then holds the recipe
	// text waiting for that answer (Run stays disabled) and OnVerified takes it.
	Verify func(*recipe.Recipe) error
	// Parse, when set, parses recipe text at once (recipe.Parse: native code and
	// tests). The page leaves it nil, as it links no YAML library: an engine worker
	// parses a typed recipe together with the check (OnChecked).
	Parse     func(text string) (*recipe.Recipe, error)
	Verifying string
	verified  map[string]string     // the engine's check of each recipe text
	parsed    map[string]parsedText // the recipes of the texts seen: parsed, made or answered
}

// parsedText is a recipe text's parse: the recipe, or why it does not parse.
type parsedText struct {
	r   *recipe.Recipe
	err error
}

// maxRemembered bounds the remembered parses and checks (typing makes one per key).
const maxRemembered = 256

// OnChecked takes an engine worker's answer for a recipe text: its parse (nil when it
// does not parse: msg is then the parser's error) and the command's check of it
// (msg, "" when it passes). An answer for a text the editor no longer holds is only
// remembered.
func (a *App) OnChecked(text string, r *recipe.Recipe, msg string) {
	if r == nil {
		a.remember(text, nil, errors.New(msg))
	} else {
		a.remember(text, r, nil)
		if a.verified == nil || len(a.verified) >= maxRemembered {
			a.verified = map[string]string{}
		}
		a.verified[text] = msg
	}
	if a.Verifying == text && a.RecipeText == text {
		a.Verifying = ""
		a.applyText()
	}
}

// remember records a text's parse (the recipe must not be changed afterwards).
func (a *App) remember(text string, r *recipe.Recipe, err error) {
	if a.parsed == nil || len(a.parsed) >= maxRemembered {
		old := a.parsed
		a.parsed = map[string]parsedText{}
		for _, keep := range []string{a.RecipeText, a.Run.Recipe, a.Eval.ResultRecipe, a.Sweep.Base} {
			if p, ok := old[keep]; ok {
				a.parsed[keep] = p
			}
		}
	}
	a.parsed[text] = parsedText{r, err}
}

// parse returns the recipe of a text: remembered, or parsed at once with Parse. ok is
// false while the page waits for an engine worker to parse it.
func (a *App) parse(text string) (r *recipe.Recipe, err error, ok bool) {
	if p, known := a.parsed[text]; known {
		return p.r, p.err, true
	}
	if a.Parse == nil {
		return nil, nil, false
	}
	r, err = a.Parse(text)
	a.remember(text, r, err)
	return r, err, true
}

// New returns the state of a fresh page with the given method registry.
func New(methods []info.Method) *App {
	a := &App{Methods: methods, Form: Form{Method: "linear", Global: map[string]string{}, PerModel: map[string]map[string]string{}}}
	a.regenerate()
	return a
}

// Method returns the registry entry of the chosen method.
func (a *App) Method() *info.Method {
	for i := range a.Methods {
		if a.Methods[i].Name == a.Form.Method {
			return &a.Methods[i]
		}
	}
	return nil
}

// Model returns the loaded model with that file name; BASE+FOLDER is the base with
// the LoRA adapter folder applied, described by the base's tensors.
func (a *App) Model(name string) (ModelFile, bool) {
	if m, ok := a.plain(name); ok {
		return m, true
	}
	return a.adapted(name)
}

// Compat compares the models the form merges (all readable ones when none is chosen).
func (a *App) Compat() Compat {
	var chosen []ModelFile
	for _, name := range a.Form.Models {
		if m, ok := a.Model(name); ok {
			chosen = append(chosen, m)
		}
	}
	if len(chosen) == 0 {
		chosen = a.Models
	}
	return Compatibility(chosen)
}

// AddModels adds inspected files (a file of the same name is replaced) and selects
// the readable new ones.
func (a *App) AddModels(files ...ModelFile) {
	// Models first, so that an adapter picked with its base is applied to it.
	files = slices.Clone(files)
	slices.SortStableFunc(files, func(x, y ModelFile) int {
		switch {
		case x.IsAdapter() == y.IsAdapter():
			return 0
		case y.IsAdapter():
			return -1
		}
		return 1
	})
	for _, f := range files {
		if IsDataset(f) {
			a.AddDataset(f)
			a.filesGone([]string{f.Name}) // a curve measured on the file it replaces
			continue
		}
		replaced := false
		for i := range a.Models {
			if a.Models[i].Name == f.Name {
				a.Models[i], replaced = f, true
			}
		}
		if replaced {
			a.filesGone([]string{f.Name})
		} else {
			a.Models = append(a.Models, f)
		}
		switch {
		case f.Error != "":
		case f.IsAdapter():
			a.chooseAdapter(f.Name)
		case !slices.Contains(a.Form.Models, f.Name):
			a.Form.Models = append(a.Form.Models, f.Name)
		}
	}
	a.fixBase()
	a.regenerate()
	a.pairDefaults()
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	a.withdraw(a.runUses(names...))
}

// runUses reports whether the finished run's recipe names any of the files, so that
// replacing one of them outdates its result (a file it did not use does not).
func (a *App) runUses(names ...string) bool {
	r, err, ok := a.parse(a.Run.Recipe)
	if !ok || err != nil {
		return false
	}
	paths := r.ModelPaths()
	for _, n := range names {
		if slices.Contains(paths, n) {
			return true
		}
	}
	return false
}

// RemoveModel forgets a file.
func (a *App) RemoveModel(name string) {
	a.RemoveDataset(name)
	var kept []ModelFile
	for _, m := range a.Models {
		if m.Name != name {
			kept = append(kept, m)
		}
	}
	a.Models = kept
	a.dropEntries(name)
	delete(a.Form.PerModel, name)
	if a.Form.Base == name {
		a.Form.Base = ""
	}
	a.Labs.Files = without(a.Labs.Files, name)
	a.fixBase()
	a.regenerate()
	a.withdraw(a.runUses(name))
	a.filesGone([]string{name})
	a.pairDefaults()
}

// ClearModels forgets every loaded file.
func (a *App) ClearModels() {
	a.Models, a.Form.Models, a.Form.Base, a.Labs.Files = nil, nil, "", nil
	a.ClearDatasets()
	a.Form.PerModel = map[string]map[string]string{}
	a.regenerate()
	a.withdraw(true)
	if a.Sweep.Running {
		a.Sweep.ID++ // its late answers are ignored
	}
	a.Sweep.Running, a.Sweep.Err, a.Sweep.Points, a.Sweep.Base, a.Sweep.A, a.Sweep.B = false, "", nil, "", "", ""
}

// ToggleModel includes or leaves out a loaded model.
func (a *App) ToggleModel(name string) {
	if m, ok := a.plain(name); ok && m.IsAdapter() {
		if len(a.usesAdapter(name)) > 0 {
			a.dropEntries(name)
		} else if m.Error == "" {
			a.chooseAdapter(name)
		}
	} else if slices.Contains(a.Form.Models, name) {
		a.Form.Models = without(a.Form.Models, name)
	} else if m, ok := a.Model(name); ok && m.Error == "" {
		a.Form.Models = append(a.Form.Models, name)
	}
	a.fixBase()
	a.regenerate()
}

// SetMethod picks a method; values typed for parameters it also has are kept.
//
// A parameter the method requires without a default that is also its swept scalar
// (slerp's t, della's density) starts at the middle of its range, so that the picked
// method runs at once and the Live curve has a slider to move and a Sweep to press;
// the field shows the value, to change.
func (a *App) SetMethod(name string) {
	a.Form.Method = name
	a.startRequired()
	a.fixBase()
	a.regenerate()
}

func (a *App) startRequired() {
	var m *info.Method
	for i := range a.Methods {
		if a.Methods[i].Name == a.Form.Method {
			m = &a.Methods[i]
		}
	}
	if m == nil {
		return
	}
	for _, p := range m.Params {
		if !p.Required || p.Sweep == "" || p.Default != nil || p.Min == nil || p.Max == nil {
			continue
		}
		mid := strconv.FormatFloat((*p.Min+*p.Max)/2, 'g', -1, 64)
		if !p.PerModel {
			if a.Form.Global[p.Name] == "" {
				a.Form.Global[p.Name] = mid
			}
			continue
		}
		for _, model := range a.Form.Models {
			if a.Form.PerModel[model] == nil {
				a.Form.PerModel[model] = map[string]string{}
			}
			if a.Form.PerModel[model][p.Name] == "" {
				a.Form.PerModel[model][p.Name] = mid
			}
		}
	}
}

// SetBase picks the base model.
func (a *App) SetBase(name string) {
	a.Form.Base = name
	if name != "" && !slices.Contains(a.Form.Models, name) {
		a.Form.Models = append([]string{name}, a.Form.Models...)
	}
	a.regenerate()
}

// SetParam records typed text for a global (model == "") or per-model parameter.
func (a *App) SetParam(model, param, text string) {
	if model == "" {
		a.Form.Global[param] = text
	} else {
		if a.Form.PerModel[model] == nil {
			a.Form.PerModel[model] = map[string]string{}
		}
		a.Form.PerModel[model][param] = text
	}
	a.regenerate()
}

// SetSeed records the seed text.
func (a *App) SetSeed(text string) {
	a.Form.Seed = text
	a.regenerate()
}

// fixBase keeps the base consistent with the method, as its registry entry declares:
// a method that needs one gets the first chosen model when none is picked; one that
// takes an optional base keeps the picked one (or none); a method without one has none.
func (a *App) fixBase() {
	m := a.Method()
	switch {
	case m == nil || !(m.NeedsBase || m.OptionalBase):
		a.Form.Base = ""
	case a.Form.Base != "" && slices.Contains(a.Form.Models, a.Form.Base):
	case m.OptionalBase:
		a.Form.Base = ""
	default:
		a.Form.Base = ""
		if len(a.Form.Models) > 0 {
			a.Form.Base = a.Form.Models[0]
		}
	}
}

// regenerate writes the form as recipe text.
func (a *App) regenerate() {
	r, errs := a.Form.ToRecipe(a.Method())
	a.FieldErrors = errs
	a.FormHidden = false
	if len(r.Models) == 0 {
		a.RecipeText = "# Drop checkpoints, or load a lab, to make a recipe.\nmerge_method: " + a.Form.Method + "\n"
	} else {
		a.RecipeText = string(r.Normalise())
		a.remember(a.RecipeText, r, nil)
	}
	a.RecipeErr = a.check(r)
	if len(errs) > 0 && a.RecipeErr == "" {
		a.RecipeErr, a.Verifying = "Fix the highlighted fields first.", ""
	}
	a.withdraw(false)
}

// SetRecipeText takes a recipe typed or imported into the editor. A valid one also
// updates the form; an invalid one is kept as typed, with its error.
func (a *App) SetRecipeText(text string) {
	a.RecipeText = text
	a.Typed = true
	defer a.withdraw(false)
	a.applyText()
}

// applyText takes the editor's text once it is parsed: the form follows it and it is
// checked. Until an engine worker has parsed it, Run waits (Verifying).
func (a *App) applyText() {
	if strings.TrimSpace(a.RecipeText) == "" { // (an empty Verifying means none: say it here)
		a.RecipeErr, a.Verifying = "The recipe is empty: type one, or pick a method in 2. Method and the form writes it again.", ""
		return
	}
	r, err, ok := a.parse(a.RecipeText)
	switch {
	case !ok:
		a.RecipeErr, a.Verifying = "", a.RecipeText
	case err != nil:
		a.RecipeErr, a.Verifying = err.Error(), ""
		if strings.Contains(err.Error(), recipe.MsgNoModels) {
			if msg := a.unknownMethod(methodLine(a.RecipeText)); msg != "" {
				a.RecipeErr = msg // the first thing to fix: the form follows the method
			}
		}
	default:
		f, shown := FromRecipe(r)
		a.Form, a.FormHidden = f, !shown
		a.FieldErrors = map[string]string{}
		a.RecipeErr = a.check(r)
	}
}

// withdraw drops the finished run's result and error once what produced them changed:
// the recipe text (always checked) or the files (changed is true). A result is never
// offered for a recipe other than the one it was made by.
func (a *App) withdraw(changed bool) {
	r := &a.Run
	if r.Running || (!changed && a.RecipeText == r.Recipe) {
		return
	}
	if r.Result == nil && r.Err == "" && !r.Cancelled && !r.Outdated {
		return
	}
	if r.Result != nil && a.OnDiscard != nil {
		a.OnDiscard(r.Result.URL)
	}
	a.Run = Run{ID: r.ID, Workers: r.Workers}
}

// notLoaded says which part of a model the recipe names is not loaded: for
// BASE+ADAPTER, the base file or the adapter folder.
func (a *App) notLoaded(p string) string {
	var loaded, adapters []string
	for _, m := range a.Models {
		if m.IsAdapter() {
			adapters = append(adapters, m.Name)
		} else {
			loaded = append(loaded, m.Name)
		}
	}
	base, dir, adapted := ref.Split(p)
	if !adapted {
		if hint := recipe.DidYouMean(p, loaded); hint != "" { // a typo in a typed name
			return fmt.Sprintf("The recipe names %q, which is not loaded%s: fix the name in the recipe, or drop that file.", p, hint)
		}
		return fmt.Sprintf("The recipe names %q, which is not loaded: drop that file, or rename the model in the recipe.", p)
	}
	_, haveBase := a.plain(base)
	_, haveDir := a.plain(dir)
	dirHint, baseHint := recipe.DidYouMean(dir, adapters), recipe.DidYouMean(base, loaded)
	const how = "choose its folder (adapter_config.json with adapter_model.safetensors) with Choose a folder…"
	switch {
	case haveBase && !haveDir:
		return fmt.Sprintf("The recipe applies the LoRA adapter %q to %s, but the adapter folder %s is not loaded%s: %s, or fix the name in the recipe.", dir, base, dir, dirHint, how)
	case !haveBase && haveDir:
		return fmt.Sprintf("The recipe applies the adapter %s to the base model %q, which is not loaded%s: drop that file, or fix the name in the recipe.", dir, base, baseHint)
	}
	return fmt.Sprintf("The recipe names %q: the base model %q%s and the LoRA adapter %q%s are not loaded: drop the base, %s, or fix the names in the recipe.", p, base, baseHint, dir, dirHint, how)
}

// methodLine returns the value of a top-level `merge_method:` line of recipe text, or
// "" (a text that does not parse can still name its method).
func methodLine(text string) string {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, "merge_method:"); ok {
			v, _, _ = strings.Cut(v, "#")
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}

// unknownMethod says that name is no method of the registry, with the nearest names
// ("" when name is empty or a method).
func (a *App) unknownMethod(name string) string {
	if name == "" {
		return ""
	}
	var names []string
	for _, x := range a.Methods {
		if x.Name == name {
			return ""
		}
		names = append(names, x.Name)
	}
	return fmt.Sprintf("Unknown method %q%s.", name, recipe.DidYouMean(name, names))
}

// check says, in plain words, why a recipe cannot run in the page ("" when it can):
// an unknown method, models that are not loaded, or models that do not fit together.
func (a *App) check(r *recipe.Recipe) string {
	a.Verifying = ""
	if msg := a.unknownMethod(r.MergeMethod); msg != "" {
		return msg
	}
	var m *info.Method
	for i := range a.Methods {
		if a.Methods[i].Name == r.MergeMethod {
			m = &a.Methods[i]
		}
	}
	if m == nil {
		return "Say which method merges the models (for example merge_method: linear)."
	}
	paths := r.ModelPaths()
	if len(paths) == 0 {
		return "Add models to merge: drop checkpoint files or load a lab."
	}
	for _, p := range paths {
		if mf, ok := a.Model(p); !ok {
			return a.notLoaded(p)
		} else if mf.Error != "" {
			return fmt.Sprintf("%s cannot be read: %s", p, mf.Error)
		} else if mf.IsAdapter() {
			base := a.adapterBase()
			if base == "" {
				base = "BASE"
			}
			return fmt.Sprintf("%s is a LoRA adapter folder, not a model: name it after the base model it was trained on, as %s+%s.", p, base, p)
		}
	}
	if m.NeedsBase && r.BaseModel == "" {
		return fmt.Sprintf("%s needs a base model: choose one.", m.Name)
	}
	if len(r.Slices) > 0 {
		return "" // layer ranges of differently sized models: the planner checks each slice
	}
	n := len(r.Models)
	for _, model := range r.Models {
		if model.Path == r.BaseModel && (m.NeedsBase || m.OptionalBase) {
			n--
		}
	}
	if n < m.MinModels {
		return fmt.Sprintf("%s needs at least %d models besides the base; %d chosen.", m.Name, m.MinModels, n)
	}
	if m.MaxModels > 0 && n > m.MaxModels {
		return fmt.Sprintf("%s takes at most %d models besides the base; %d chosen.", m.Name, m.MaxModels, n)
	}
	verify := a.Verify == nil // the engine checks it once the page's own checks pass
	if a.Verify != nil {
		if err := a.Verify(r); err != nil {
			return err.Error()
		}
	}
	if m.NeedsEval && r.Ladle.Eval != nil {
		if msg := a.checkEvalData(r.Ladle.Eval); msg != "" {
			return msg
		}
	}
	var files []ModelFile
	for _, p := range paths {
		mf, _ := a.Model(p)
		files = append(files, mf)
	}
	if c := Compatibility(files); !c.OK() && !m.PartialModels {
		more := ""
		if n := len(c.Mismatches) - 1; n > 0 {
			more = fmt.Sprintf(" (and %d more %s, listed under 1. Models)", n, plural(n, "tensor", "tensors"))
		}
		return fmt.Sprintf("The models do not line up: %s %s%s. Merge checkpoints of one architecture: untick or remove the one that differs, or take it out of the recipe.", c.Mismatches[0].Tensor, c.Mismatches[0].Detail, more)
	}
	if verify {
		if msg, ok := a.verified[a.RecipeText]; ok {
			return msg
		}
		a.Verifying = a.RecipeText
	}
	return ""
}

// Fields lists the form inputs of the chosen method: global ones (model == "") or the
// per-model ones of one model.
func (a *App) Fields(model string) []Field {
	m := a.Method()
	if m == nil {
		return nil
	}
	var out []Field
	for _, p := range m.Params {
		if p.PerModel != (model != "") || (model == "" && p.Type == "object") {
			continue
		}
		if p.Ladle && p.Name == "seed" {
			continue // the method card's seed input sets ladle.seed
		}
		f := Field{Param: p, Model: model, Default: formatDefault(p.Default)}
		if model == "" {
			f.Value = a.Form.Global[p.Name]
		} else {
			f.Value = a.Form.PerModel[model][p.Name]
		}
		f.Error = a.FieldErrors[f.ID()]
		out = append(out, f)
	}
	return out
}

// CanRun reports whether Run may start.
func (a *App) CanRun() bool { return a.RecipeErr == "" && a.Verifying == "" && !a.Run.Running }

// Run is one merge's lifecycle in the page.
type Run struct {
	Running  bool
	Started  time.Time
	Elapsed  time.Duration
	Progress Progress
	Err      string
	Result   *Result
	ID       int // increases with every run, so late messages of an old run are ignored
	// Workers is how many engine workers share the run (a merge split by tensor).
	Workers int
	// Cancelling is set when Cancel was pressed and the workers have not answered yet;
	// Cancelled once they have.
	Cancelling, Cancelled bool
	// Recipe is the recipe text the run merges: its result is withdrawn once the
	// editor holds another. Outdated is set when it changed while the run went on.
	Recipe   string
	Outdated bool
}

// Progress mirrors the engine's progress message.
type Progress struct {
	TensorsDone, TensorsTotal int
	BytesDone, BytesTotal     int64
	Tensor                    string
}

// Result is a finished merge, offered for download.
type Result struct {
	Name    string
	URL     string // an object URL of the Blob
	Bytes   int64
	Seconds float64
	// Signature: the result's header marks it as a robust weight signature, which
	// Evaluate does not score (set once the header is read).
	Signature bool
}

// StartRun begins a run and returns its ID; the previous result is dropped.
func (a *App) StartRun(now time.Time) int {
	a.Run = Run{Running: true, Started: now, ID: a.Run.ID + 1, Recipe: a.RecipeText}
	return a.Run.ID
}

// OnProgress records progress of run id.
func (a *App) OnProgress(id int, p Progress, now time.Time) {
	if id != a.Run.ID || !a.Run.Running {
		return
	}
	a.Run.Progress, a.Run.Elapsed = p, now.Sub(a.Run.Started)
}

// OnDone records the result of run id.
func (a *App) OnDone(id int, r Result, now time.Time) {
	if id != a.Run.ID {
		return
	}
	a.Run.Running, a.Run.Result, a.Run.Elapsed = false, &r, now.Sub(a.Run.Started)
	a.Run.Progress.TensorsDone, a.Run.Progress.BytesDone = a.Run.Progress.TensorsTotal, a.Run.Progress.BytesTotal
	if a.RecipeText != a.Run.Recipe { // edited during the run: the result is not the recipe's
		if a.OnDiscard != nil {
			a.OnDiscard(r.URL)
		}
		a.Run.Result, a.Run.Outdated = nil, true
	}
}

// OnError records why run id failed.
func (a *App) OnError(id int, msg string, now time.Time) {
	if id != a.Run.ID {
		return
	}
	a.Run.Running, a.Run.Err, a.Run.Elapsed = false, msg, now.Sub(a.Run.Started)
}

// OnCancelled ends run id without a result.
func (a *App) OnCancelled(id int, now time.Time) {
	if id != a.Run.ID {
		return
	}
	a.Run = Run{ID: a.Run.ID, Workers: a.Run.Workers, Elapsed: now.Sub(a.Run.Started), Cancelled: true, Recipe: a.Run.Recipe}
}

// Fraction is how far the run has come, from 0 to 1, by bytes read.
func (r Run) Fraction() float64 {
	p := r.Progress
	switch {
	case p.BytesTotal > 0:
		return float64(p.BytesDone) / float64(p.BytesTotal)
	case p.TensorsTotal > 0:
		return float64(p.TensorsDone) / float64(p.TensorsTotal)
	}
	return 0
}

// Status is the run's one-line description.
func (r Run) Status() string {
	p := r.Progress
	secs := r.Elapsed.Seconds()
	rate := ""
	if secs > 0 && p.BytesDone > 0 {
		rate = fmt.Sprintf(", %.2f GB/s", float64(p.BytesDone)/1e9/secs)
	}
	on := ""
	if r.Workers > 1 {
		on = fmt.Sprintf(" on %d workers", r.Workers)
	}
	switch {
	case r.Running && r.Cancelling:
		return "Cancelling the merge…"
	case r.Running && p.TensorsTotal == 0:
		return fmt.Sprintf("Starting the merge%s…", on)
	case r.Running:
		return fmt.Sprintf("Merging%s: %d of %d tensors, %s of %s, %.1f s%s", on, p.TensorsDone, p.TensorsTotal, ckpt.FormatBytes(p.BytesDone), ckpt.FormatBytes(p.BytesTotal), secs, rate)
	case r.Cancelled:
		return fmt.Sprintf("Cancelled after %.1f s: nothing was written.", secs)
	case r.Outdated:
		return "The recipe changed while merging, so that result was dropped: run again."
	case r.Err != "":
		return "The merge failed."
	case r.Result != nil:
		return fmt.Sprintf("Merged %d tensors (%s read) in %.2f s%s. Ready to download.", p.TensorsTotal, ckpt.FormatBytes(p.BytesTotal), secs, rate)
	}
	return "No merge yet." // (the hint says whether Run is ready: "Ready." here repeated it, or stood beside an error)
}

func without(xs []string, x string) []string {
	var out []string
	for _, e := range xs {
		if e != x {
			out = append(out, e)
		}
	}
	return out
}
