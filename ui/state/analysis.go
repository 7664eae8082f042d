package state

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"ladle/core/analyze"
	recipe "ladle/core/recipe/spec"
)

// Analysis is the task-vector view: a base, the models compared with it, and what the
// engine measured (package ladle/core/analyze, the numbers `ladle analyze` prints).
type Analysis struct {
	// Base is the chosen base's file name ("" follows the recipe's base, else the
	// first model); Density is the typed TIES density ("" follows the recipe's).
	Base    string
	Density string

	Running  bool
	ID       int
	Started  time.Time
	Progress Progress
	Err      string
	// Result is the last analysis; For are the base and models it was made of.
	Result     *analyze.Result
	ForBase    string
	ForModels  []string
	ForDensity float64
	Seconds    float64
}

// AnalysisBase is the base the analysis uses.
func (a *App) AnalysisBase() string {
	readable := a.readableModels()
	for _, b := range []string{a.Analysis.Base, a.Form.Base} {
		if b != "" && slices.Contains(readable, b) {
			return b
		}
	}
	if len(readable) > 0 {
		return readable[0]
	}
	return ""
}

// AnalysisModels are the models compared with the base: the recipe's chosen models
// (all readable ones when fewer than one is chosen), without the base.
func (a *App) AnalysisModels() []string {
	base := a.AnalysisBase()
	var out []string
	for _, m := range a.Form.Models {
		if mf, ok := a.Model(m); ok && mf.Error == "" && m != base {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		for _, m := range a.readableModels() {
			if m != base {
				out = append(out, m)
			}
		}
	}
	return out
}

func (a *App) readableModels() []string {
	var out []string
	for _, m := range a.Models {
		if m.Error == "" {
			out = append(out, m.Name)
		}
	}
	return out
}

// RecipeDensity is the density the recipe gives TIES: the global density, or the one
// every model shares; 1 (keep everything) when it sets none or they differ.
func (a *App) RecipeDensity() float64 {
	r, err, ok := a.parse(a.RecipeText)
	if !ok || err != nil {
		return analyze.DefaultDensity
	}
	scalar := func(s recipe.Setting, ok bool) (float64, bool) {
		if !ok || s.Scalar == nil {
			return 0, false
		}
		switch v := s.Scalar.(type) {
		case float64:
			return v, true
		case int:
			return float64(v), true
		}
		return 0, false
	}
	d, found := scalar(r.Parameters["density"], r.Parameters["density"].Scalar != nil)
	if !found {
		first := true
		for _, m := range r.Models {
			if m.Path == r.BaseModel {
				continue
			}
			s, has := m.Parameters["density"]
			v, ok := scalar(s, has)
			if !ok || (!first && v != d) {
				return analyze.DefaultDensity
			}
			d, first, found = v, false, true
		}
	}
	if !found || d < 0 || d > 1 {
		return analyze.DefaultDensity
	}
	return d
}

// AnalysisDensity is the density the analysis uses, or why the typed one is not valid.
func (a *App) AnalysisDensity() (float64, error) {
	text := strings.TrimSpace(a.Analysis.Density)
	if text == "" {
		return a.RecipeDensity(), nil
	}
	d, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(d) || d < 0 || d > 1 {
		return 0, fmt.Errorf("density %q: give a fraction from 0 to 1 (the share of each task vector TIES keeps)", text)
	}
	return d, nil
}

// AnalysisProblem says why the analysis cannot run now ("" when it can).
func (a *App) AnalysisProblem() string {
	if len(a.readableModels()) < 2 {
		return "Load a base and at least one model fine-tuned from it."
	}
	if len(a.AnalysisModels()) == 0 {
		return "Choose at least one model besides the base."
	}
	if _, err := a.AnalysisDensity(); err != nil {
		return err.Error()
	}
	return ""
}

// CanAnalyze reports whether Analyze may start.
func (a *App) CanAnalyze() bool { return !a.Analysis.Running && a.AnalysisProblem() == "" }

// SetAnalysisBase and SetAnalysisDensity record the view's choices.
func (a *App) SetAnalysisBase(name string)    { a.Analysis.Base = name }
func (a *App) SetAnalysisDensity(text string) { a.Analysis.Density = text }

// StartAnalysis begins an analysis and returns its ID.
func (a *App) StartAnalysis(now time.Time) int {
	an := &a.Analysis
	an.ID++
	an.Running, an.Started, an.Progress, an.Err = true, now, Progress{}, ""
	return an.ID
}

// OnAnalysisProgress records the progress of analysis id.
func (a *App) OnAnalysisProgress(id int, p Progress) {
	if id == a.Analysis.ID && a.Analysis.Running {
		a.Analysis.Progress = p
	}
}

// OnAnalyzed records the result of analysis id.
func (a *App) OnAnalyzed(id int, base string, density float64, r *analyze.Result, now time.Time) {
	if id != a.Analysis.ID {
		return
	}
	an := &a.Analysis
	an.Running, an.Result, an.ForBase, an.ForDensity, an.Seconds = false, r, base, density, now.Sub(an.Started).Seconds()
	an.ForModels = r.Models
	an.Progress.TensorsDone, an.Progress.BytesDone = an.Progress.TensorsTotal, an.Progress.BytesTotal
}

// OnAnalysisEnd ends analysis id without a result: msg says why ("" when cancelled).
func (a *App) OnAnalysisEnd(id int, msg string) {
	if id != a.Analysis.ID {
		return
	}
	a.Analysis.Running, a.Analysis.Err, a.Analysis.Progress = false, msg, Progress{}
}

// AnalysisStale reports whether the shown analysis was made of another base, other
// models or another density than the view now names: its numbers are then not the
// current selection's, and the view says so.
func (a *App) AnalysisStale() bool {
	an := a.Analysis
	if an.Result == nil || an.Running {
		return false
	}
	d, err := a.AnalysisDensity()
	return err != nil || d != an.ForDensity || an.ForBase != a.AnalysisBase() || !slices.Equal(an.ForModels, a.AnalysisModels())
}

// JSONNumber writes a float64 as `ladle analyze --json` (encoding/json) does, so the
// page's data-value attributes equal the command's numbers character for character.
func JSONNumber(v float64) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "NaN"
	}
	return string(b)
}

// CellText is a cosine as a heatmap cell shows it, two decimals; a value that rounds
// to zero is "0.00" whatever its sign (not "-0.00", which reads as a different
// number beside its neighbours).
func CellText(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	if s == "-0.00" {
		return "0.00"
	}
	return s
}

// HeatClass buckets a cosine from −1 to 1 into one of 11 CSS classes (heat-0 to
// heat-10; heat-5 is 0), since the page's policy allows no inline styles.
func HeatClass(c float64) string {
	k := int(math.Round((c + 1) * 5))
	return "heat-" + strconv.Itoa(max(0, min(10, k)))
}
