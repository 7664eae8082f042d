package state

import (
	"slices"
	"strings"
)

// noModelsYet is the recipe error of a page with nothing loaded: a hint, not an error.
const noModelsYet = "Add models to merge: drop checkpoint files or load a lab."

// Errors lists what the page's error box shows, in plain words, most urgent first:
// the run's failure, the files that could not be read, a notice (a lab or recipe file
// that could not be loaded) and why the recipe cannot run. It is empty while nothing
// is wrong; a fresh page with no models has a hint (Hint) but no error.
func (a *App) Errors() []string {
	var out []string
	if a.Run.Err != "" {
		out = append(out, "The merge failed: "+a.Run.Err)
	}
	for _, m := range a.Models {
		if m.Error != "" {
			out = append(out, m.Name+" cannot be read: "+m.Problem())
		}
	}
	if a.Notice != "" {
		out = append(out, a.Notice)
	}
	if a.RecipeErr != "" && !a.Run.Running && (a.Typed || a.RecipeErr != noModelsYet) {
		out = append(out, a.RecipeErr)
	}
	return out
}

// Problem is why the file cannot be read, without the file's name in front (the page
// shows it beside the name).
func (m ModelFile) Problem() string {
	return strings.TrimPrefix(m.Error, m.Name+": ")
}

// Hint is the line that tells a person what to do next when nothing is wrong.
func (a *App) Hint() string {
	switch {
	case len(a.Errors()) > 0:
		return ""
	case a.RecipeErr == noModelsYet:
		return noModelsYet
	case a.Run.Result != nil:
		return "Download the merged checkpoint, or change the recipe and run again."
	case a.Verifying != "" && !a.Run.Running:
		return "Checking the recipe…"
	case a.CanRun():
		return "Ready: press Run to merge. Nothing leaves this page."
	}
	return ""
}

// SetNotice records (or, with "", clears) an error that belongs to no model or run.
func (a *App) SetNotice(msg string) { a.Notice = msg }

// SetWorkers records how many engine workers share run id.
func (a *App) SetWorkers(id, n int) {
	if id == a.Run.ID {
		a.Run.Workers = n
	}
}

// CancelRun marks run id as being cancelled; OnCancelled ends it.
func (a *App) CancelRun(id int) {
	if id == a.Run.ID && a.Run.Running {
		a.Run.Cancelling = true
	}
}

// Chosen reports whether a loaded model takes part in the merge (as a model or the base).
func (a *App) Chosen(name string) bool {
	return slices.Contains(a.Form.Models, name) || len(a.usesAdapter(name)) > 0
}

// ShowForm reports whether the parameter form matches the recipe: false when the
// recipe uses something only the editor can show (filters, objects) or does not parse.
func (a *App) ShowForm() bool {
	return !a.FormHidden && !strings.Contains(a.RecipeErr, "not valid YAML")
}

// NeedsBase reports whether the chosen method merges relative to a base model.
func (a *App) NeedsBase() bool {
	m := a.Method()
	return m != nil && m.NeedsBase
}

// TakesBase reports whether the chosen method takes a base model, needed or optional
// (the registry's needs_base and optional_base).
func (a *App) TakesBase() bool {
	m := a.Method()
	return m != nil && (m.NeedsBase || m.OptionalBase)
}

// PaperLink splits a registry paper reference, "Title (Authors, Year), https://...", into
// its text and its address ("" when it names none).
func PaperLink(paper string) (text, url string) {
	paper = strings.TrimSpace(paper)
	i := strings.LastIndex(paper, "https://")
	if i < 0 {
		i = strings.LastIndex(paper, "http://")
	}
	if i < 0 {
		return paper, ""
	}
	url = strings.Fields(paper[i:])[0]
	text = strings.TrimRight(strings.TrimSpace(paper[:i]), ",;: ")
	if text == "" {
		text = url
	}
	return text, url
}

// Range describes a parameter's allowed values for the form, e.g. "0 to 1", "at least 0".
func (f Field) Range() string {
	p := f.Param
	switch {
	case len(p.Choices) > 0:
		return "one of " + strings.Join(p.Choices, ", ")
	case p.Min != nil && p.Max != nil:
		return formatDefault(*p.Min) + " to " + formatDefault(*p.Max)
	case p.Min != nil:
		return "at least " + formatDefault(*p.Min)
	case p.Max != nil:
		return "at most " + formatDefault(*p.Max)
	}
	return ""
}

// Placeholder is what an empty input shows: the default, or what to type.
func (f Field) Placeholder() string {
	if f.Default != "" {
		return f.Default
	}
	switch f.Param.Type {
	case "float", "int":
		if f.Param.Required {
			return "required"
		}
		return "a number, or a list for a gradient"
	case "string list":
		return "comma-separated"
	}
	return ""
}
