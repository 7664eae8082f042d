package state

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
)

// Labs are the teaching labs bundled with the page, read from its own origin.
//
// # Format
//
// public/labs/index.json lists the labs, in the order the gallery shows them:
//
//	[{"name": "soup-digits", "title": "Model soups on handwritten digits",
//	  "summary": "Average fine-tunes of one model and compare with the best one."}]
//
// name is the lab's folder under public/labs (letters, digits, '.', '_' and '-').
// Each folder holds lab.json, the checkpoints, the data file and the recipes:
//
//	{"title": "Model soups on handwritten digits",
//	 "summary": "One paragraph on what the lab shows.",
//	 "try": ["Run the uniform soup.", "Switch to the greedy soup recipe."],
//	 "expect": ["The uniform soup beats the average ingredient."],
//	 "files": ["a.safetensors", "b.safetensors", "c.safetensors"],
//	 "data": "digits-test.safetensors",
//	 "recipes": [{"name": "Uniform soup", "file": "uniform.yaml"}],
//	 "results": {"ingredients": [{"name": "a.safetensors", "accuracy": 0.91}],
//	             "soups": [{"name": "Uniform soup", "accuracy": 0.93}]},
//	 "curve": [{"alpha": 0, "loss": 0.31, "accuracy": 0.91}]}
//
// files are the checkpoints the lab loads as models (the recipes name them by these
// names); data is the evaluation data set (optional: the page shows the numbers of
// results, computed when the lab was built); recipes are YAML files of the folder, the
// first one loaded into the editor; curve (optional) is an interpolation between two
// models, drawn as a chart. Every file name is a plain name inside the lab's folder.
// Keys the page does not know are ignored, so a lab may carry more.
type Labs struct {
	Loaded bool       // the index was read (or found missing)
	Err    string     // why the index could not be read
	List   []LabEntry // the bundled labs; empty when none
	// Loading is the name of the lab being fetched; Open the one shown, with Lab.
	Loading string
	Open    string
	Lab     *Lab
	// Files are the loaded models that came from a lab: opening another lab replaces
	// them (files a person dropped stay).
	Files []string
	// RecipeFile is the lab recipe last loaded into the editor, RecipeText its text (so
	// that the page knows when the editor still holds it).
	RecipeFile, RecipeText string
	// Live is the open lab's figures measured in the tab (labeval.go).
	Live LabLive
}

// LabEntry is one lab of public/labs/index.json.
type LabEntry struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Summary string `json:"summary"`
}

// Lab is a lab's lab.json.
type Lab struct {
	Title   string       `json:"title"`
	Summary string       `json:"summary"`
	Try     []string     `json:"try"`
	Expect  []string     `json:"expect"`
	Files   []string     `json:"files"`
	Data    string       `json:"data,omitempty"`
	Recipes []LabRecipe  `json:"recipes"`
	Results LabResults   `json:"results"`
	Curve   []CurvePoint `json:"curve,omitempty"`
	// CurveModels are the two checkpoints the curve interpolates between (alpha 0 is
	// the first), so that the page can measure it live.
	CurveModels []string `json:"curve_models,omitempty"`
}

// LabRecipe is one recipe file of a lab.
type LabRecipe struct {
	Name string `json:"name"`
	File string `json:"file"`
}

// LabResults are the evaluation numbers of a lab: each ingredient and each merge.
type LabResults struct {
	Ingredients []Score `json:"ingredients"`
	Soups       []Score `json:"soups"`
}

// Score is one model's accuracy (0 to 1) on the lab's data.
type Score struct {
	Name     string  `json:"name"`
	Accuracy float64 `json:"accuracy"`
	// Split is the dataset split measured ("" for the default, x and y).
	Split string `json:"split,omitempty"`
	// Model is the checkpoint file measured (an ingredient), Recipe the recipe file
	// whose merge was measured (a soup); Head, when set, says the figure restricts the
	// model's outputs (a task head), which the page's plain evaluation does not.
	Model  string `json:"model,omitempty"`
	Recipe string `json:"recipe,omitempty"`
	Head   string `json:"head,omitempty"`
}

// CurvePoint is one point of an interpolation curve: the mix alpha (0 is the first
// model, 1 the second) and the loss and accuracy of the interpolated model.
type CurvePoint struct {
	Alpha    float64 `json:"alpha"`
	Loss     float64 `json:"loss"`
	Accuracy float64 `json:"accuracy"`
	// The same path after aligning the second model to the first (the re-basin lab);
	// absent for labs without an alignment.
	AlignedLoss     *float64 `json:"aligned_loss,omitempty"`
	AlignedAccuracy *float64 `json:"aligned_accuracy,omitempty"`
}

var plainName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// NoLabs is what the gallery says when the build bundles no lab.
const NoLabs = "No labs are bundled in this build."

// ParseLabIndex reads public/labs/index.json.
func ParseLabIndex(b []byte) ([]LabEntry, error) {
	var list []LabEntry
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("labs/index.json is not a JSON list of {name, title, summary}: %v", err)
	}
	seen := map[string]bool{}
	for i, l := range list {
		if !plainName.MatchString(l.Name) || strings.Contains(l.Name, "..") {
			return nil, fmt.Errorf("labs/index.json: lab %d has the name %q; a lab's name is its folder's (letters, digits, '.', '_', '-')", i, l.Name)
		}
		if seen[l.Name] {
			return nil, fmt.Errorf("labs/index.json lists %q twice", l.Name)
		}
		seen[l.Name] = true
		if strings.TrimSpace(l.Title) == "" {
			list[i].Title = l.Name
		}
	}
	return list, nil
}

// ParseLab reads a lab's lab.json; name is its folder, for messages.
func ParseLab(name string, b []byte) (*Lab, error) {
	var l Lab
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("labs/%s/lab.json is not valid: %v", name, err)
	}
	bad := func(what, file string) error {
		return fmt.Errorf("labs/%s/lab.json: %s %q is not a plain file name of the lab's folder", name, what, file)
	}
	if len(l.Files) == 0 {
		return nil, fmt.Errorf("labs/%s/lab.json lists no checkpoint files", name)
	}
	for _, f := range l.Files {
		if !plainName.MatchString(f) || strings.Contains(f, "..") {
			return nil, bad("file", f)
		}
	}
	if l.Data != "" && (!plainName.MatchString(l.Data) || strings.Contains(l.Data, "..")) {
		return nil, bad("data", l.Data)
	}
	for i, r := range l.Recipes {
		if !plainName.MatchString(r.File) || strings.Contains(r.File, "..") {
			return nil, bad("recipe", r.File)
		}
		if strings.TrimSpace(r.Name) == "" {
			l.Recipes[i].Name = r.File
		}
	}
	for _, s := range append(append([]Score(nil), l.Results.Ingredients...), l.Results.Soups...) {
		if math.IsNaN(s.Accuracy) || s.Accuracy < 0 || s.Accuracy > 1 {
			return nil, fmt.Errorf("labs/%s/lab.json: the accuracy of %q is %v; want a fraction from 0 to 1", name, s.Name, s.Accuracy)
		}
	}
	for _, p := range l.Curve {
		if !finite(p.Alpha) || !finite(p.Loss) || !finite(p.Accuracy) {
			return nil, fmt.Errorf("labs/%s/lab.json: the curve has a point that is not a finite number", name)
		}
	}
	if strings.TrimSpace(l.Title) == "" {
		l.Title = name
	}
	return &l, nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// SetLabIndex records the bundled labs (nil with a nil error: none are bundled).
func (a *App) SetLabIndex(list []LabEntry, err error) {
	a.Labs.Loaded, a.Labs.List, a.Labs.Err = true, list, ""
	if err != nil {
		a.Labs.Err = err.Error()
	}
}

// LabStarted records that a lab is being fetched.
func (a *App) LabStarted(name string) {
	a.Labs.Loading = name
	a.Notice = ""
}

// LabModels adds a lab's checkpoints as models in place of the previous lab's, and
// returns the names it dropped.
func (a *App) LabModels(models []ModelFile) (dropped []string) {
	var names []string
	for _, m := range models {
		names = append(names, m.Name)
	}
	for _, n := range a.Labs.Files {
		if !slices.Contains(names, n) {
			a.RemoveModel(n)
			dropped = append(dropped, n)
		}
	}
	a.AddModels(models...)
	a.Labs.Files = names
	return dropped
}

// LabLoaded shows a lab whose files were added as models; recipe is the text of its
// first recipe ("" when it has none), loaded into the editor.
func (a *App) LabLoaded(name string, lab *Lab, recipe string) {
	if a.Labs.Loading == name {
		a.Labs.Loading = ""
	}
	a.Labs.Open, a.Labs.Lab = name, lab
	file := ""
	if len(lab.Recipes) > 0 {
		file = lab.Recipes[0].File
	}
	if r, ok := a.linkRecipe(name); ok { // a workshop link's recipe wins over the lab's first
		recipe, file = r, ""
	}
	if recipe != "" {
		a.LabRecipeLoaded(file, recipe)
	}
}

// LabFailed records why a lab could not be loaded.
func (a *App) LabFailed(name string, err error) {
	if a.Labs.Loading == name {
		a.Labs.Loading = ""
	}
	a.Notice = fmt.Sprintf("The lab %q could not be loaded: %v", name, err)
	if r, ok := a.linkRecipe(name); ok {
		a.SetRecipeText(r)
	}
}

// Best returns the highest accuracy among scores (0 when there are none).
func Best(scores []Score) float64 {
	best := 0.0
	for _, s := range scores {
		best = math.Max(best, s.Accuracy)
	}
	return best
}

// Percent formats an accuracy as a percentage with one decimal.
func Percent(acc float64) string { return fmt.Sprintf("%.1f%%", acc*100) }
