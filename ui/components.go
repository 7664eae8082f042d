package ui

import (
	"fmt"
	"ladle/core/ckpt"
	"math"
	"strconv"

	"github.com/vugu/vugu"

	"ladle/core/merge/info"
	recipe "ladle/core/recipe/spec"
	"ladle/ui/state"
)

// The components. Each .vugu file is compiled by vugugen into <name>_gen.go, which
// holds the component's Build method; its type and helpers are here.

// Root is the whole page.
type Root struct{ P *Page }

// Files is the drop zone, the file and folder pickers and the model list.
type Files struct{ P *Page }

// Method is the method picker and the parameter form of the chosen method.
type Method struct{ P *Page }

// Field is one parameter input, global or of one model.
type Field struct {
	P *Page
	F state.Field
	// Compact fields (per-model ones, repeated for every model) leave their doc to
	// the method's list of per-model settings, and show it as a tooltip.
	Compact bool
}

// Recipe is the recipe editor with import and export.
type Recipe struct{ P *Page }

// RunPanel is Run, Cancel, progress, status, errors and Download.
type RunPanel struct{ P *Page }

// Labs is the labs gallery and the open lab's evaluation.
type Labs struct{ P *Page }

// Chart is an interpolation chart as inline SVG.
type Chart struct{ C *state.Chart }

// --- Files

func (c *Files) zoneClass() string {
	if c.P.Dragging {
		return "dropzone dragging"
	}
	return "dropzone"
}

func (c *Files) dragOver(event vugu.DOMEvent) {
	event.PreventDefault()
	c.P.Dragging = true
}

func (c *Files) dragLeave(event vugu.DOMEvent) { c.P.Dragging = false }

func (c *Files) drop(event vugu.DOMEvent) {
	event.PreventDefault()
	event.StopPropagation()
	c.P.Dragging = false
	c.P.Host.DropFiles(event)
}

func (c *Files) readingText() string {
	if c.P.Reading == 1 {
		return "Reading 1 file…"
	}
	return fmt.Sprintf("Reading %d files…", c.P.Reading)
}

func (c *Files) itemClass(m state.ModelFile) string {
	switch {
	case m.Error != "":
		return "model unreadable"
	case c.P.App.Chosen(m.Name):
		return "model chosen"
	}
	return "model"
}

func (c *Files) checkID(name string) string { return domID("model", name) }

func (c *Files) isBase(name string) bool {
	return c.P.App.TakesBase() && c.P.App.Form.Base != "" && c.P.App.Form.Base == name
}

// showFields: per-model parameters for a chosen model that is not the base.
func (c *Files) showFields(name string) bool {
	return c.P.App.ShowForm() && c.P.App.Chosen(name) && !c.isBase(name) && len(c.P.App.Fields(name)) > 0
}

func (c *Files) compatClass() string {
	if c.P.App.Compat().OK() {
		return "compat ok"
	}
	return "compat bad"
}

// maxMismatches is how many mismatched tensors the list shows.
const maxMismatches = 8

func (c *Files) mismatches() []state.Mismatch {
	mm := c.P.App.Compat().Mismatches
	return mm[:min(len(mm), maxMismatches)]
}

func (c *Files) moreMismatches() int { return len(c.P.App.Compat().Mismatches) - maxMismatches }

func (c *Files) moreText() string {
	return fmt.Sprintf("and %d more tensors that do not line up", c.moreMismatches())
}

// --- Field

func (c *Field) id() string { return domID(c.F.ID()) }

// ariaLabel names a per-model input after its model ("weight of a.safetensors"): the
// model list repeats the same visible label for every model.
func (c *Field) ariaLabel() any {
	if c.F.Model == "" {
		return nil
	}
	return c.F.Param.Name + " of " + c.F.Model
}

func (c *Field) docID() string {
	if c.Compact {
		return perModelDocID(c.F.Param.Name)
	}
	return domID(c.F.ID(), "doc")
}

func (c *Field) title() any {
	if !c.Compact {
		return nil
	}
	if r := c.F.Range(); r != "" {
		return c.F.Param.Doc + " (" + r + ")"
	}
	return c.F.Param.Doc
}

func perModelDocID(param string) string { return domID("per-model-doc", param) }

func (c *Field) cls() string {
	cls := "field"
	if c.Compact {
		cls += " compact"
	}
	if c.F.Error != "" {
		cls += " invalid"
	}
	return cls
}

func (c *Field) isChoice() bool { return len(c.F.Param.Choices) > 0 || c.F.Param.Type == "bool" }

func (c *Field) choices() []string {
	if c.F.Param.Type == "bool" {
		return []string{"true", "false"}
	}
	return c.F.Param.Choices
}

func (c *Field) defaultText() string {
	if c.F.Default == "" {
		return "default"
	}
	return "default (" + c.F.Default + ")"
}

func (c *Field) inputMode() string {
	switch c.F.Param.Type {
	case "float", "int":
		return "decimal"
	}
	return "text"
}

func (c *Field) invalid() any {
	if c.F.Error != "" {
		return "true"
	}
	return nil
}

func (c *Field) set(event vugu.DOMEvent) {
	c.P.App.SetParam(c.F.Model, c.F.Param.Name, value(event))
}

// --- Method

func (c *Method) summary() string {
	if m := c.P.App.Method(); m != nil {
		return m.Summary
	}
	return ""
}

func (c *Method) paperText() string {
	if m := c.P.App.Method(); m != nil {
		text, _ := state.PaperLink(m.Paper)
		return text
	}
	return ""
}

func (c *Method) paperURL() string {
	if m := c.P.App.Method(); m != nil {
		_, url := state.PaperLink(m.Paper)
		return url
	}
	return ""
}

// unknown reports whether the recipe names a method the registry does not hold.
func (c *Method) unknown() bool { return c.P.App.Form.Method != "" && c.P.App.Method() == nil }

func (c *Method) unknownText() string {
	var names []string
	for _, m := range c.P.App.Methods {
		names = append(names, m.Name)
	}
	return fmt.Sprintf("The recipe names the method %q, which Ladle does not know%s. Pick a method here, or fix merge_method in the recipe.",
		c.P.App.Form.Method, recipe.DidYouMean(c.P.App.Form.Method, names))
}

func (c *Method) readable() []string {
	var out []string
	for _, m := range c.P.App.Models {
		if m.Error == "" {
			out = append(out, m.Name)
		}
	}
	return out
}

// baseNone is the base picker's first choice: a prompt when the method needs a base,
// "no base" when it takes an optional one.
func (c *Method) baseNone() string {
	if c.P.App.NeedsBase() {
		return "Choose the base model"
	}
	return "No base model"
}

func (c *Method) baseDoc() string {
	if c.P.App.NeedsBase() {
		return "The model the others were fine-tuned from: the merge works on their differences from it."
	}
	return "Optional for this method: the model the others were fine-tuned from, which the method then uses as its description says; with no base it merges the models themselves."
}

func (c *Method) random() bool {
	m := c.P.App.Method()
	return m != nil && m.Random
}

func (c *Method) seedError() string { return c.P.App.FieldErrors["seed"] }

func (c *Method) perModel() bool {
	return len(c.P.App.Models) > 0 && c.P.App.ShowForm() && len(c.perModelParams()) > 0
}

func (c *Method) perModelParams() []info.Param {
	m := c.P.App.Method()
	if m == nil {
		return nil
	}
	var out []info.Param
	for _, p := range m.Params {
		if p.PerModel && p.Type != "object" {
			out = append(out, p)
		}
	}
	return out
}

func (c *Method) perModelDocID(param string) string { return perModelDocID(param) }

// --- Recipe

func (c *Recipe) invalid() any {
	if c.P.App.RecipeErr != "" && c.P.App.Typed {
		return "true"
	}
	return nil
}

// --- RunPanel

func (c *RunPanel) percent() string {
	return fmt.Sprintf("%.1f", 100*c.P.App.Run.Fraction())
}

func (c *RunPanel) workersText() string {
	if c.P.Workers > 1 {
		return fmt.Sprintf("splits merges over %d engine workers", c.P.Workers)
	}
	return "runs merges in an engine worker"
}

// href is the result's object URL, nil (no attribute) until a result exists.
func (c *RunPanel) href() any {
	if r := c.P.App.Run.Result; r != nil && r.URL != "" {
		return r.URL
	}
	return nil
}

func (c *RunPanel) fileName() any {
	if r := c.P.App.Run.Result; r != nil {
		return r.Name
	}
	return nil
}

func (c *RunPanel) disabled() any {
	if c.href() == nil {
		return "true"
	}
	return nil
}

func (c *RunPanel) downloadClass() string {
	if c.href() == nil {
		return "button download disabled"
	}
	return "button download primary"
}

func (c *RunPanel) downloadText() string {
	if r := c.P.App.Run.Result; r != nil {
		return fmt.Sprintf("Download %s (%s)", r.Name, ckpt.FormatBytes(r.Bytes))
	}
	return "Download (after a merge)"
}

// --- Labs

func (c *Labs) none() bool {
	l := c.P.App.Labs
	return l.Loaded && l.Err == "" && len(l.List) == 0
}

func (c *Labs) noLabs() string { return state.NoLabs }

func (c *Labs) labClass(name string) string {
	if c.P.App.Labs.Open == name {
		return "lab-card open"
	}
	return "lab-card"
}

func (c *Labs) pressed(name string) string {
	if c.P.App.Labs.Open == name {
		return "true"
	}
	return "false"
}

// recipePressed marks the lab recipe the editor holds, unedited: after "Press Greedy
// soup" the button says which recipe Run will merge.
func (c *Labs) recipePressed(file string) string {
	l := c.P.App.Labs
	if l.RecipeFile == file && l.RecipeText == c.P.App.RecipeText {
		return "true"
	}
	return "false"
}

func (c *Labs) recipeClass(file string) string {
	if c.recipePressed(file) == "true" {
		return "lab-recipe pressed"
	}
	return "lab-recipe"
}

// busy marks the lab buttons while a lab loads; they stay focusable (a disabled
// button would drop the focus to the page), and OpenLab ignores clicks meanwhile.
func (c *Labs) busy() any {
	if c.P.App.Labs.Loading != "" {
		return "true"
	}
	return nil
}

func (c *Labs) loadingText() string {
	return "Loading the lab " + c.P.App.Labs.Loading + "…"
}

func (c *Labs) hasScores() bool {
	r := c.P.App.Labs.Lab.Results
	return len(r.Ingredients)+len(r.Soups) > 0
}

func (c *Labs) caption() string {
	lab := c.P.App.Labs.Lab
	text := "Accuracy, measured when the lab was built"
	if lab.Data != "" {
		text = "Accuracy on " + lab.Data + ", measured when the lab was built"
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range c.labAccuracies() {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if hi-lo > 1e-9 {
		text += fmt.Sprintf("; bars span %s to %s, the range shown", state.Percent(lo), state.Percent(hi))
	}
	return text
}

func (c *Labs) labAccuracies() []float64 {
	var all []float64
	for _, s := range c.P.App.Labs.Lab.Results.Ingredients {
		all = append(all, s.Accuracy)
	}
	for _, s := range c.P.App.Labs.Lab.Results.Soups {
		all = append(all, s.Accuracy)
	}
	return all
}

// bar is a lab score's bar, scaled to the range of the table's figures as the live
// table's are: 92.4% and 95.9% must not look alike.
func (c *Labs) bar(acc float64) string {
	return strconv.FormatFloat(state.ScaledBar(acc, c.labAccuracies()), 'f', 4, 64)
}

func (c *Labs) chart() *state.Chart { return state.CurveChart(c.P.App.Labs.Lab.Curve) }

func (c *Labs) pct(acc float64) string { return state.Percent(acc) }
