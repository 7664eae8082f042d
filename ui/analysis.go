package ui

import (
	"fmt"

	"ladle/ui/state"
)

// Analysis is the task-vector view: base, density, Analyze, the cosine heatmap and
// the per-tensor table. Its numbers' data-value attributes hold exactly what
// `ladle analyze --json` prints.
type Analysis struct{ P *Page }

func (c *Analysis) readable() []string {
	var out []string
	for _, m := range c.P.App.Models {
		if m.Error == "" {
			out = append(out, m.Name)
		}
	}
	return out
}

func (c *Analysis) densityPlaceholder() string {
	return fmt.Sprintf("%g (the recipe's)", c.P.App.RecipeDensity())
}

func (c *Analysis) problem() string {
	if c.P.App.Analysis.Running {
		return ""
	}
	return c.P.App.AnalysisProblem()
}

func (c *Analysis) percent() string {
	p := c.P.App.Analysis.Progress
	if p.BytesTotal == 0 {
		return "0"
	}
	return fmt.Sprintf("%.1f", 100*float64(p.BytesDone)/float64(p.BytesTotal))
}

func (c *Analysis) status() string {
	an := c.P.App.Analysis
	switch {
	case an.Running:
		return fmt.Sprintf("Analyzing: %d of %d tensors…", an.Progress.TensorsDone, an.Progress.TensorsTotal)
	case an.Result != nil:
		return fmt.Sprintf("%d models against the base %s, %d shared tensors, TIES density %g, in %.2f s.", len(an.Result.Models), an.ForBase, len(an.Result.Tensors), an.ForDensity, an.Seconds)
	}
	return ""
}

func (c *Analysis) resultClass() string {
	if c.P.App.AnalysisStale() {
		return "analysis-result stale"
	}
	return "analysis-result"
}

func (c *Analysis) heatCaption() string {
	return "Cosine similarity of the task vectors (model − " + c.P.App.Analysis.ForBase + ") over all shared tensors: 1 is the same direction, 0 unrelated, −1 opposite."
}

// short is a model's column label, [1], [2], ...; label is its row label with its name.
func (c *Analysis) short(i int) string { return fmt.Sprintf("[%d]", i+1) }

func (c *Analysis) label(i int) string {
	return fmt.Sprintf("[%d] %s", i+1, c.P.App.Analysis.Result.Models[i])
}

func (c *Analysis) cellTitle(i, j int, v float64) string {
	r := c.P.App.Analysis.Result
	return fmt.Sprintf("cos(%s, %s) = %s", r.Models[i], r.Models[j], state.JSONNumber(v))
}

func (c *Analysis) value(v float64) string { return state.JSONNumber(v) }
func (c *Analysis) heat(v float64) string  { return "heat " + state.HeatClass(v) }
func (c *Analysis) fixed(v float64) string { return state.CellText(v) }
func (c *Analysis) sig(v float64) string   { return fmt.Sprintf("%.4g", v) }
func (c *Analysis) pct(v float64) string   { return fmt.Sprintf("%.1f%%", 100*v) }
