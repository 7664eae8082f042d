package state

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	recipe "ladle/core/recipe/spec"
)

// Evaluation in the page: datasets, the architecture, and the live scores of the
// loaded models and the merge result.
//
// A dropped file whose tensors are all x/y pairs (x and y, x.NAME and y.NAME) is a
// dataset, never a model: it is listed apart, offered in the dataset picker, and still
// sent with merges, so that a greedy soup's ladle.eval.data finds it. A dropped .json
// that parses as an ARCH.json is the architecture of every evaluation (else each
// checkpoint's ladle.arch is used).

// ResultName is the eval-row name of the merge result.
const ResultName = "result"

// TestSplit is the picker's name for the default split (tensors x and y).
const TestSplit = "test"

// DatasetFile is a loaded dataset.
type DatasetFile struct {
	Name string
	Size int64
	// Splits lists the splits, "test" (x and y) first, then NAME for x.NAME/y.NAME.
	Splits []string
	// Samples is the number of samples of each split.
	Samples map[string]int64
	// tensors holds the file's tensor names, to resolve a recipe's split as the
	// command does (splitTensors).
	tensors map[string]bool
}

// IsDataset reports whether an inspected file is a dataset: it holds at least one x/y
// pair and nothing else.
func IsDataset(m ModelFile) bool {
	if m.Error != "" || len(m.Tensors) == 0 {
		return false
	}
	_, ok := datasetOf(m)
	return ok
}

// datasetOf reads a dataset's splits from its tensors.
func datasetOf(m ModelFile) (DatasetFile, bool) {
	have := map[string]Tensor{}
	for _, t := range m.Tensors {
		have[t.Name] = t
	}
	d := DatasetFile{Name: m.Name, Size: m.Size, Samples: map[string]int64{}, tensors: map[string]bool{}}
	for _, t := range m.Tensors {
		d.tensors[t.Name] = true
	}
	for _, t := range m.Tensors {
		split, ok := splitOf(t.Name, "x")
		if !ok {
			if _, ok := splitOf(t.Name, "y"); !ok {
				return d, false // a tensor that is neither x nor y
			}
			continue
		}
		y, ok := have["y"+strings.TrimPrefix(t.Name, "x")]
		if !ok || len(t.Shape) == 0 || len(y.Shape) == 0 {
			continue
		}
		if split == "" {
			split = TestSplit
		}
		d.Splits = append(d.Splits, split)
		d.Samples[split] = t.Shape[0]
	}
	slices.SortFunc(d.Splits, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == TestSplit:
			return -1
		case b == TestSplit:
			return 1
		}
		return strings.Compare(a, b)
	})
	d.Splits = slices.Compact(d.Splits)
	return d, len(d.Splits) > 0
}

// splitTensors names the tensors of a recipe's split (ladle.eval.split) in the dataset,
// by the command's rule (core/eval.SplitTensors, which a test compares): x and y for
// "", and for "test" when the file has both; else x.NAME and y.NAME.
func (d DatasetFile) splitTensors(split string) (x, y string) {
	if split == "" || (split == TestSplit && d.tensors["x"] && d.tensors["y"]) {
		return "x", "y"
	}
	return "x." + split, "y." + split
}

// checkEvalData says why a recipe's ladle.eval cannot run in the page ("" when it
// can): its dataset must be loaded and hold the split, in the command's words.
func (a *App) checkEvalData(e *recipe.EvalOptions) string {
	for _, d := range a.Datasets {
		if d.Name != e.Data {
			continue
		}
		x, y := d.splitTensors(e.Split)
		if d.tensors[x] && d.tensors[y] {
			return ""
		}
		var have []string
		for _, s := range d.Splits {
			if s == TestSplit && d.tensors["x"] && d.tensors["y"] {
				s = "(default)"
			}
			have = append(have, strconv.Quote(s))
		}
		return fmt.Sprintf("ladle.eval.split: %s has no split %q (tensors %s and %s); its splits: %s", e.Data, e.Split, x, y, strings.Join(have, ", "))
	}
	if _, ok := a.Model(e.Data); ok {
		return fmt.Sprintf("ladle.eval.data: %s is a checkpoint, not a dataset (a dataset holds tensors x and y, or x.NAME and y.NAME).", e.Data)
	}
	return fmt.Sprintf("The recipe's ladle.eval.data names %q, which is not loaded: drop that dataset file, or rename it in the recipe.", e.Data)
}

// splitOf is the split of tensor name when it is prefix ("x") or prefix.NAME.
func splitOf(name, prefix string) (string, bool) {
	if name == prefix {
		return "", true
	}
	s, ok := strings.CutPrefix(name, prefix+".")
	return s, ok && s != ""
}

// Eval is the state of the page's evaluation.
type Eval struct {
	// Dataset and Split are the picked dataset file and split.
	Dataset, Split string
	// ArchName and ArchText are a dropped ARCH.json ("" when none).
	ArchName, ArchText string

	Running bool
	ID      int     // increases with every evaluation, so late answers are ignored
	Done    float64 // models finished (fractions for the ones under way)
	Total   int     // models asked
	// Workers is how many engine workers take part in the evaluation (PlanEval).
	Workers int
	Err     string
	// Rows are the scores, one per evaluated model, the result first.
	Rows []EvalRow
	// ResultRecipe is the recipe that made the current result: the rows' kinds
	// (ingredient, base) are relative to it.
	ResultRecipe string
}

// EvalRow is one model's live score on the picked dataset and split.
type EvalRow struct {
	Model string // the file name, or ResultName
	// Accuracy, Loss and N are the strings `ladle eval --json` prints; Error is set
	// instead when the model could not be evaluated.
	Accuracy, Loss, N string
	Error             string
	Dataset, Split    string
	// Pending is set while the model is still being evaluated.
	Pending bool
}

// Acc is the row's accuracy as a number (NaN when it has none).
func (r EvalRow) Acc() float64 {
	v, err := strconv.ParseFloat(r.Accuracy, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// AddDataset records a loaded dataset and picks it when none is picked.
func (a *App) AddDataset(m ModelFile) {
	d, ok := datasetOf(m)
	if !ok {
		return
	}
	a.Datasets = slices.DeleteFunc(a.Datasets, func(x DatasetFile) bool { return x.Name == d.Name })
	a.Datasets = append(a.Datasets, d)
	if a.Eval.Dataset == "" || a.Eval.Dataset == d.Name {
		a.SetDataset(d.Name)
	}
}

// RemoveDataset forgets a dataset.
func (a *App) RemoveDataset(name string) {
	a.Datasets = slices.DeleteFunc(a.Datasets, func(x DatasetFile) bool { return x.Name == name })
	if a.Eval.Dataset == name {
		a.Eval.Dataset, a.Eval.Split = "", ""
		if len(a.Datasets) > 0 {
			a.SetDataset(a.Datasets[0].Name)
		}
	}
}

// ClearDatasets forgets every dataset (and the architecture), as a fresh page.
func (a *App) ClearDatasets() {
	a.Datasets = nil
	a.Eval = Eval{ID: a.Eval.ID}
}

// Dataset returns the loaded dataset of that name.
func (a *App) Dataset(name string) (DatasetFile, bool) {
	for _, d := range a.Datasets {
		if d.Name == name {
			return d, true
		}
	}
	return DatasetFile{}, false
}

// SetDataset picks a dataset, keeping the split when it has one of that name.
func (a *App) SetDataset(name string) {
	d, ok := a.Dataset(name)
	if !ok {
		return
	}
	if a.Eval.Dataset != name {
		a.Eval.Rows = nil
		a.dropRunningEval()
	}
	a.Eval.Dataset = name
	if !slices.Contains(d.Splits, a.Eval.Split) {
		a.Eval.Split = d.Splits[0]
		if a.Labs.Lab != nil && len(a.Labs.Lab.Results.Soups) > 0 && slices.Contains(d.Splits, a.Labs.Lab.Results.Soups[0].Split) {
			a.Eval.Split = a.Labs.Lab.Results.Soups[0].Split
		}
	}
}

// SetSplit picks a split of the dataset.
func (a *App) SetSplit(split string) {
	if split != a.Eval.Split {
		a.Eval.Rows = nil
		a.dropRunningEval()
	}
	a.Eval.Split = split
}

// dropRunningEval forgets a running evaluation whose dataset or split was changed:
// its late answers are ignored.
func (a *App) dropRunningEval() {
	if a.Eval.Running {
		a.Eval.ID++
		a.Eval.Running = false
	}
}

// SetArch records a dropped ARCH.json (name and text); "" clears it.
func (a *App) SetArch(name, text string) {
	if a.Eval.ArchName != name || a.Eval.ArchText != text {
		a.Eval.Rows = nil
	}
	a.Eval.ArchName, a.Eval.ArchText = name, text
}

// CanEvaluate reports whether Evaluate may start, and why not. A running evaluation
// (the result's, started by a merge) does not block it: Evaluate starts over with
// every model.
func (a *App) CanEvaluate() (bool, string) {
	switch {
	case len(a.Datasets) == 0:
		return false, "Load a dataset to evaluate: drop a safetensors file with x and y (ladle data import-idx or import-csv makes one), or open a lab."
	case len(a.EvalModels()) == 0 && !a.ResultIsModel():
		return false, "Load models (or merge) to evaluate."
	}
	return true, ""
}

// EvalModels are the models Evaluate scores: every readable loaded network, that is
// neither a LoRA adapter (it is evaluated applied to its base, as BASE+ADAPTER) nor a
// robust weight signature (a direction for a few layers, patched into a model).
func (a *App) EvalModels() []string {
	var out []string
	for _, m := range a.Models {
		if m.Error == "" && !m.IsAdapter() && !m.IsSignature() {
			out = append(out, m.Name)
		}
	}
	return out
}

// ResultIsModel reports whether there is a merge result that Evaluate scores: one that
// is not a signature.
func (a *App) ResultIsModel() bool { return a.Run.Result != nil && !a.Run.Result.Signature }

// SetResultSignature records that the result's header marks it as a signature.
func (a *App) SetResultSignature(sig bool) {
	if a.Run.Result != nil {
		a.Run.Result.Signature = sig
	}
}

// EvalSkipped says which loaded files (and result) Evaluate leaves out, and why ("" when
// none).
func (a *App) EvalSkipped() string {
	var sigs, adapters []string
	if a.Run.Result != nil && a.Run.Result.Signature {
		sigs = append(sigs, "the result")
	}
	for _, m := range a.Models {
		switch {
		case m.Error != "":
		case m.IsSignature():
			sigs = append(sigs, m.Name)
		case m.IsAdapter():
			adapters = append(adapters, m.Name)
		}
	}
	var parts []string
	if len(sigs) > 0 {
		parts = append(parts, fmt.Sprintf("Not evaluated: %s, robust weight %s: %s the robust model's change to a few layers, not a network; patch %s into a model and evaluate that.",
			strings.Join(sigs, ", "), plural(len(sigs), "signature", "signatures"), plural(len(sigs), "it holds", "each holds"), plural(len(sigs), "it", "one")))
	}
	if len(adapters) > 0 {
		parts = append(parts, fmt.Sprintf("Not evaluated on %s own: %s, LoRA %s; a recipe's BASE+ADAPTER model is what gets merged and evaluated.",
			plural(len(adapters), "its", "their"), strings.Join(adapters, ", "), plural(len(adapters), "adapter", "adapters")))
	}
	return strings.Join(parts, " ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// StartEval begins an evaluation of total models and returns its ID. Rows of the
// models asked are cleared; others stay.
func (a *App) StartEval(models []string) int {
	a.Eval.ID++
	a.Eval.Running, a.Eval.Done, a.Eval.Total, a.Eval.Err = true, 0, len(models), ""
	a.Eval.Rows = slices.DeleteFunc(a.Eval.Rows, func(r EvalRow) bool {
		return slices.Contains(models, r.Model) || r.Dataset != a.Eval.Dataset || r.Split != a.Eval.Split
	})
	// every model asked has its row at once, pending until its score arrives
	for _, m := range models {
		a.Eval.Rows = append(a.Eval.Rows, EvalRow{Model: m, Dataset: a.Eval.Dataset, Split: a.Eval.Split, Pending: true})
	}
	a.sortRows()
	return a.Eval.ID
}

// OnEvalRows records finished rows of evaluation id.
func (a *App) OnEvalRows(id int, rows []EvalRow) {
	if id != a.Eval.ID {
		return
	}
	for _, r := range rows {
		r.Dataset, r.Split = a.Eval.Dataset, a.Eval.Split
		a.Eval.Rows = slices.DeleteFunc(a.Eval.Rows, func(x EvalRow) bool { return x.Model == r.Model })
		a.Eval.Rows = append(a.Eval.Rows, r)
	}
	a.sortRows()
}

// SetEvalWorkers records how many engine workers share evaluation id.
func (a *App) SetEvalWorkers(id, n int) {
	if id == a.Eval.ID {
		a.Eval.Workers = n
	}
}

// OnEvalProgress records how many models of evaluation id are done (fractions count
// the samples of the ones under way).
func (a *App) OnEvalProgress(id int, done float64) {
	if id == a.Eval.ID && a.Eval.Running {
		a.Eval.Done = done
	}
}

// OnEvalEnd ends evaluation id; msg is why it failed ("" when it did not).
func (a *App) OnEvalEnd(id int, msg string) {
	if id != a.Eval.ID {
		return
	}
	a.Eval.Running, a.Eval.Err, a.Eval.Done = false, msg, float64(a.Eval.Total)
	// rows left pending were cancelled or failed with their request
	a.Eval.Rows = slices.DeleteFunc(a.Eval.Rows, func(r EvalRow) bool { return r.Pending })
}

// DropResultRow forgets the result's score (a new merge replaces the result).
func (a *App) DropResultRow() {
	a.Eval.Rows = slices.DeleteFunc(a.Eval.Rows, func(r EvalRow) bool { return r.Model == ResultName })
}

// sortRows puts the result first, then the recipe's models in its order, then the
// other loaded models in their order.
func (a *App) sortRows() {
	rank := map[string]int{ResultName: 0}
	if r, err, ok := a.parse(a.kindRecipe()); ok && err == nil {
		for _, p := range r.ModelPaths() {
			if _, ok := rank[p]; !ok {
				rank[p] = len(rank)
			}
		}
	}
	for _, m := range a.Models {
		if _, ok := rank[m.Name]; !ok {
			rank[m.Name] = len(rank)
		}
	}
	slices.SortStableFunc(a.Eval.Rows, func(x, y EvalRow) int {
		rx, okx := rank[x.Model]
		ry, oky := rank[y.Model]
		if !okx {
			rx = len(rank)
		}
		if !oky {
			ry = len(rank)
		}
		return rx - ry
	})
}

// Kind says what a row's model is to the current recipe: "result", "base",
// "ingredient" or "loaded".
func (a *App) Kind(model string) string {
	if model == ResultName {
		return "result"
	}
	if r, err, ok := a.parse(a.kindRecipe()); ok && err == nil {
		if r.BaseModel == model {
			return "base"
		}
		for _, m := range r.Models {
			if m.Path == model {
				return "ingredient"
			}
		}
	}
	return "loaded"
}

// kindRecipe is the recipe the table's kinds refer to: the result's while there is
// one, else the editor's.
func (a *App) kindRecipe() string {
	if a.Run.Result != nil && a.Eval.ResultRecipe != "" {
		return a.Eval.ResultRecipe
	}
	return a.RecipeText
}

// HasBuilt reports whether any row shown has a build-time figure of the open lab.
func (a *App) HasBuilt() bool {
	for _, r := range a.ShownRows() {
		if a.BuiltAccuracy(r.Model) != "" {
			return true
		}
	}
	return false
}

// BuiltAccuracy is the open lab's build-time accuracy of a model on the picked split
// ("" when the lab has none): an ingredient by its file name, the result by the lab
// recipe that is loaded in the editor.
func (a *App) BuiltAccuracy(model string) string {
	lab := a.Labs.Lab
	if lab == nil {
		return ""
	}
	split := a.Eval.Split
	if split == TestSplit {
		split = ""
	}
	if model == ResultName {
		name := a.labRecipeNameOf(a.kindRecipe())
		for _, s := range lab.Results.Soups {
			if s.Name == name && s.Split == split && s.Head == "" {
				return Percent(s.Accuracy)
			}
		}
		return ""
	}
	for _, s := range lab.Results.Ingredients {
		if (s.Model == model || s.Name == model) && s.Split == split && s.Head == "" {
			return Percent(s.Accuracy)
		}
	}
	return ""
}

// LabRecipeName is the name of the open lab's recipe whose text is in the editor
// ("" when the editor holds something else).
func (a *App) LabRecipeName() string { return a.labRecipeNameOf(a.RecipeText) }

func (a *App) labRecipeNameOf(text string) string {
	if a.Labs.Lab == nil {
		return ""
	}
	for _, r := range a.Labs.Lab.Recipes {
		if r.File != "" && r.File == a.Labs.RecipeFile && a.Labs.RecipeText == text {
			return r.Name
		}
	}
	return ""
}

// Bar is how long a row's bar is, from 0 to 1, scaled to the range of the accuracies
// shown, so that 92.4% and 95.9% look different: the lowest gets a short bar, the
// highest a full one.
func (e Eval) Bar(acc float64) float64 {
	var all []float64
	for _, r := range e.Rows {
		all = append(all, r.Acc())
	}
	return ScaledBar(acc, all)
}

// ScaledBar is Eval.Bar over any figures: acc's bar length from 0 to 1, scaled to the
// range of all (NaNs ignored).
func ScaledBar(acc float64, all []float64) float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range all {
		if !math.IsNaN(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if math.IsNaN(acc) || math.IsInf(lo, 0) {
		return 0
	}
	span := hi - lo
	if span < 1e-9 {
		return 1
	}
	// the lowest value keeps a fifth of the width, so that it still shows as a bar
	return 0.2 + 0.8*(acc-lo)/span
}

// Scale describes the bars' range in words, for the caption.
func (e Eval) Scale() string {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range e.Rows {
		if v := r.Acc(); !math.IsNaN(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if math.IsInf(lo, 0) || hi-lo < 1e-9 {
		return ""
	}
	return fmt.Sprintf("Bars span %s to %s, the range of the scores shown.", Percent(lo), Percent(hi))
}

// GreedyTrace is what greedy_soup recorded in its result's metadata
// ("ladle.greedy_soup"): the ranking and every step.
type GreedyTrace struct {
	Data        string       `json:"data"`
	Split       string       `json:"split"`
	Strict      bool         `json:"strict"`
	Ingredients []string     `json:"ingredients"`
	Accuracy    float64      `json:"accuracy"`
	Steps       []GreedyStep `json:"steps"`
	Individual  []float64    `json:"individual"`
	// Ranking is the recipe's models by held-out accuracy, best first (filled by
	// ParseGreedyTrace from Individual and the recipe).
	Ranking []RankedModel `json:"-"`
}

// GreedyStep is one decision of a greedy soup.
type GreedyStep struct {
	Model    string  `json:"model"`
	Accuracy float64 `json:"accuracy"`
	Kept     bool    `json:"kept"`
}

// RankedModel is one ingredient and its own held-out accuracy.
type RankedModel struct {
	Model    string
	Accuracy float64
}

// GreedyKey is the metadata key of a greedy soup's record.
const GreedyKey = "ladle.greedy_soup"

// ParseGreedyTrace reads a greedy soup's record; models are the recipe's models in
// order (Individual follows them).
func ParseGreedyTrace(meta string, models []string) (*GreedyTrace, error) {
	var g GreedyTrace
	if err := json.Unmarshal([]byte(meta), &g); err != nil {
		return nil, fmt.Errorf("the result's %s record is not valid: %v", GreedyKey, err)
	}
	for i, acc := range g.Individual {
		name := fmt.Sprintf("model %d", i+1)
		if i < len(models) {
			name = models[i]
		}
		g.Ranking = append(g.Ranking, RankedModel{name, acc})
	}
	slices.SortStableFunc(g.Ranking, func(a, b RankedModel) int {
		switch {
		case a.Accuracy > b.Accuracy:
			return -1
		case a.Accuracy < b.Accuracy:
			return 1
		}
		return 0
	})
	return &g, nil
}

// SetGreedy records the greedy trace of the current result (nil: none).
func (a *App) SetGreedy(g *GreedyTrace) { a.Greedy = g }

// LabRecipeLoaded puts a lab recipe's text into the editor and remembers which it is.
func (a *App) LabRecipeLoaded(file, text string) {
	a.SetRecipeText(text)
	a.Labs.RecipeFile, a.Labs.RecipeText = file, a.RecipeText
}

// RecipeModels are the models a recipe text merges, in order (nil when it does not
// parse, or is not parsed yet).
func (a *App) RecipeModels(text string) []string {
	r, err, ok := a.parse(text)
	if !ok || err != nil {
		return nil
	}
	out := make([]string, len(r.Models))
	for i, m := range r.Models {
		out[i] = m.Path
	}
	return out
}

// ShownRows are the rows the table shows: the result's only while a result exists.
func (a *App) ShownRows() []EvalRow {
	if a.Run.Result != nil {
		return a.Eval.Rows
	}
	var out []EvalRow
	for _, r := range a.Eval.Rows {
		if r.Model != ResultName {
			out = append(out, r)
		}
	}
	return out
}
