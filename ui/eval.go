package ui

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/vugu/vugu"

	"ladle/ui/state"
)

// EvalHost is what the evaluation and the live curve need from the browser: the
// engine workers. ladle/wasm/app implements it; its methods run in event handlers with
// the render lock held and must not block.
type EvalHost interface {
	// Evaluate scores every loaded model and the current result on the picked dataset
	// and split.
	Evaluate()
	// Sweep merges and evaluates every point of the live curve.
	Sweep()
	// CancelEval stops the running evaluation and sweep.
	CancelEval()
	// MergePoint loads the recipe of the curve's point i into the editor and merges it
	// as the result.
	MergePoint(i int)
	// MeasureLab recomputes the open lab's table (and curve) in the tab.
	MeasureLab()
}

// EvalPanel is the dataset and split pickers, Evaluate, the live table (data-testid
// eval-row per model) and a greedy soup's trace.
type EvalPanel struct{ P *Page }

// SweepPanel is the live curve: the slider of the method's main parameter, Sweep, and
// the chart (data-testid curve, data-points).
type SweepPanel struct {
	P      *Page
	layout *state.SweepChart
}

// --- EvalPanel

func (c *EvalPanel) splits() []string {
	d, _ := c.P.App.Dataset(c.P.App.Eval.Dataset)
	return d.Splits
}

func (c *EvalPanel) splitText(s string) string {
	d, _ := c.P.App.Dataset(c.P.App.Eval.Dataset)
	text := s
	if s == state.TestSplit {
		text = "test (x, y)"
	}
	if n, ok := d.Samples[s]; ok {
		text += fmt.Sprintf(": %d samples", n)
	}
	return text
}

func (c *EvalPanel) datasetText(d state.DatasetFile) string {
	var parts []string
	for _, s := range d.Splits {
		parts = append(parts, fmt.Sprintf("%s %d", s, d.Samples[s]))
	}
	return fmt.Sprintf("%s; splits %s", humanBytes(d.Size), strings.Join(parts, ", "))
}

func (c *EvalPanel) archText() string {
	if c.P.App.Eval.ArchName != "" {
		return "Architecture: " + c.P.App.Eval.ArchName + " (dropped), for every model."
	}
	return "Architecture: each checkpoint's own ladle.arch (a merge keeps its models'); drop an ARCH.json to use another."
}

func (c *EvalPanel) canEval() bool {
	ok, _ := c.P.App.CanEvaluate()
	return ok && c.P.Eval != nil
}

func (c *EvalPanel) whyNot() string {
	_, why := c.P.App.CanEvaluate()
	return why
}

func (c *EvalPanel) percent() string {
	e := c.P.App.Eval
	if e.Total == 0 {
		return "0"
	}
	return fmt.Sprintf("%.1f", 100*e.Done/float64(e.Total))
}

func (c *EvalPanel) status() string {
	e := c.P.App.Eval
	switch {
	case e.Running:
		on := ""
		if e.Workers > 1 {
			on = fmt.Sprintf(" in %d workers", e.Workers)
		}
		return fmt.Sprintf("Evaluating on %s (%s)%s: %d of %d models done…", e.Dataset, e.Split, on, int(e.Done), e.Total)
	case len(e.Rows) > 0:
		failed := 0
		for _, r := range e.Rows {
			if r.Error != "" {
				failed++
			}
		}
		scored := len(e.Rows) - failed
		msg := fmt.Sprintf("%d %s scored on %s, split %s.", scored, plural(scored, "model", "models"), e.Dataset, e.Split)
		if failed > 0 {
			msg += fmt.Sprintf(" %d could not be evaluated: %s says why.", failed, plural(failed, "its row", "their rows"))
		}
		return msg
	}
	return ""
}

func (c *EvalPanel) caption() string {
	e := c.P.App.Eval
	s := fmt.Sprintf("Live: measured in this tab on %s, split %s.", e.Dataset, e.Split)
	if c.P.App.HasBuilt() {
		s += " At build: the lab's own figure for the same split, measured when it was built."
	}
	return s
}

func (c *EvalPanel) rowName(r state.EvalRow) string {
	if r.Model == state.ResultName {
		if res := c.P.App.Run.Result; res != nil {
			return "result (" + res.Name + ")"
		}
		return "result"
	}
	return r.Model
}

func (c *EvalPanel) rowClass(r state.EvalRow) string {
	if r.Model == state.ResultName {
		return "soup live"
	}
	return "live"
}

func (c *EvalPanel) bar(r state.EvalRow) string {
	return strconv.FormatFloat(c.P.App.Eval.Bar(r.Acc()), 'f', 4, 64)
}

func (c *EvalPanel) pct(r state.EvalRow) string {
	return fmt.Sprintf("%.2f%%", 100*r.Acc())
}

func (c *EvalPanel) pctF(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }

func (c *EvalPanel) loss(r state.EvalRow) string {
	v, err := strconv.ParseFloat(r.Loss, 64)
	if err != nil {
		return r.Loss
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

func (c *EvalPanel) built(r state.EvalRow) string {
	if b := c.P.App.BuiltAccuracy(r.Model); b != "" {
		return b
	}
	return "—"
}

func (c *EvalPanel) greedyIntro() string {
	g := c.P.App.Greedy
	split := g.Split
	if split == "" {
		split = "test"
	}
	rule := "at least as well"
	if g.Strict {
		rule = "strictly better"
	}
	return fmt.Sprintf("Scored in the worker on %s, split %s: each model alone, then, best first, the soup with each next model, kept when it scores %s.", g.Data, split, rule)
}

func (c *EvalPanel) kept(s state.GreedyStep) string { return strconv.FormatBool(s.Kept) }

func (c *EvalPanel) stepClass(s state.GreedyStep) string {
	if s.Kept {
		return "kept"
	}
	return "rejected"
}

func (c *EvalPanel) decision(i int, s state.GreedyStep) string {
	switch {
	case i == 0:
		return "kept: the best model starts the soup"
	case s.Kept:
		return "kept"
	}
	return "rejected"
}

func (c *EvalPanel) greedyFinal() string {
	g := c.P.App.Greedy
	return fmt.Sprintf("Final soup: %d of %d models (%s), held-out accuracy %s.", len(g.Ingredients), len(g.Individual), strings.Join(g.Ingredients, ", "), c.pctF(g.Accuracy))
}

// --- SweepPanel

// BeforeBuild lays the chart out once per render.
func (c *SweepPanel) BeforeBuild() {
	c.layout = c.P.App.Sweep.Chart(c.P.App.SweepValue())
}

func (c *SweepPanel) chart() *state.SweepChart { return c.layout }

// param is the parameter the slider sets: the recipe's main scalar.
func (c *SweepPanel) param() state.SweepParam {
	if c.P.App.Sweep.Interp {
		return state.SweepParam{}
	}
	_, p, _, _ := c.P.App.SweepTarget()
	return p
}

func (c *SweepPanel) hasParam() bool { return c.param().Name != "" }

func (c *SweepPanel) paramText() string {
	saved := c.P.App.Sweep.Interp
	c.P.App.Sweep.Interp = false
	_, p, _, ok := c.P.App.SweepTarget()
	c.P.App.Sweep.Interp = saved
	if !ok {
		return "the recipe's main parameter (none for this recipe)"
	}
	return "the recipe's " + p.Label
}

func (c *SweepPanel) valueText() string {
	v := c.P.App.SweepValue()
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func (c *SweepPanel) step() string {
	p := c.param()
	return strconv.FormatFloat((p.Max-p.Min)/100, 'g', 6, 64)
}

func (c *SweepPanel) slide(event vugu.DOMEvent) {
	v, err := strconv.ParseFloat(value(event), 64)
	if err != nil {
		return
	}
	if err := c.P.App.SetSweepValue(v); err != nil {
		c.P.App.Sweep.Err = err.Error()
	}
}

func (c *SweepPanel) setA(event vugu.DOMEvent) { c.P.App.Sweep.A = value(event) }
func (c *SweepPanel) setB(event vugu.DOMEvent) { c.P.App.Sweep.B = value(event) }

// canAlign: alignment needs an architecture, which the models must carry (ladle.arch).
func (c *SweepPanel) canAlign() bool {
	m, ok := c.P.App.Model(c.P.App.Sweep.A)
	return ok && m.Metadata["ladle.arch"] != ""
}

func (c *SweepPanel) toggleAlign() { c.P.App.Sweep.Align = !c.P.App.Sweep.Align }

func (c *SweepPanel) alignText() string {
	if c.canAlign() {
		return "Permutes the second model's hidden units to match the first before each point is mixed (ladle: {align: true})."
	}
	return "Alignment needs the architecture in the first model's ladle.arch metadata."
}

func (c *SweepPanel) nText() string { return strconv.Itoa(c.P.App.SweepN()) }

func (c *SweepPanel) fromText() string {
	_, p, _, _ := c.P.App.SweepTarget()
	lo, _ := c.P.App.SweepRange(p)
	return strconv.FormatFloat(lo, 'g', 6, 64)
}

func (c *SweepPanel) toText() string {
	_, p, _, _ := c.P.App.SweepTarget()
	_, hi := c.P.App.SweepRange(p)
	return strconv.FormatFloat(hi, 'g', 6, 64)
}

func (c *SweepPanel) setN(event vugu.DOMEvent) {
	if n, err := strconv.Atoi(strings.TrimSpace(value(event))); err == nil && n >= 2 {
		c.P.App.Sweep.N = min(n, state.MaxSweepPoints)
	}
}

func (c *SweepPanel) setFrom(event vugu.DOMEvent) { c.setEnd(event, true) }
func (c *SweepPanel) setTo(event vugu.DOMEvent)   { c.setEnd(event, false) }

func (c *SweepPanel) setEnd(event vugu.DOMEvent, from bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(value(event)), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	_, p, _, _ := c.P.App.SweepTarget()
	lo, hi := c.P.App.SweepRange(p)
	if from {
		lo = v
	} else {
		hi = v
	}
	c.P.App.Sweep.From, c.P.App.Sweep.To = lo, hi
}

func (c *SweepPanel) canSweep() bool {
	ok, _ := c.P.App.CanSweep()
	return ok && c.P.Eval != nil
}

func (c *SweepPanel) whyNot() string {
	_, why := c.P.App.CanSweep()
	return why
}

func (c *SweepPanel) sweepText() string {
	return fmt.Sprintf("Sweep %d points", c.P.App.SweepN())
}

func (c *SweepPanel) status() string {
	s := c.P.App.Sweep
	switch {
	case s.Running:
		return fmt.Sprintf("Merging and evaluating: %d of %d points…", s.SweepDone(), len(s.Points))
	case len(s.Points) > 0:
		return fmt.Sprintf("%d points of %s, on %s (%s).", s.SweepDone(), s.Param.Name, s.Dataset, s.Split)
	}
	return ""
}

// xAt is the parameter value of the chart's dot i.
func (c *SweepPanel) xAt(i int) string {
	if c.layout == nil || i >= len(c.layout.Xs) {
		return ""
	}
	return strconv.FormatFloat(c.layout.Xs[i], 'g', -1, 64)
}

// pick merges the point of the chart's dot i.
// pickKey merges point i on Enter or Space, so that the curve's points (focusable
// buttons) can be chosen without a mouse.
func (c *SweepPanel) pickKey(event vugu.DOMEvent, i int) {
	if k := event.PropString("key"); k == "Enter" || k == " " {
		event.PreventDefault()
		c.pick(i)
	}
}

func (c *SweepPanel) pick(i int) {
	if c.layout == nil || i >= len(c.layout.Xs) || c.P.Eval == nil {
		return
	}
	j := slices.IndexFunc(c.P.App.Sweep.Points, func(p state.SweepPoint) bool { return p.X == c.layout.Xs[i] })
	if j >= 0 {
		c.P.Eval.MergePoint(j)
	}
}

// --- Labs: measure live

func (c *Labs) hasLive() bool {
	l := c.P.App.Labs.Live
	return l.Lab == c.P.App.Labs.Open && (l.Running || len(l.Scores) > 0)
}

func (c *Labs) live(soup bool, i int) string {
	text, _, ok := c.P.App.LiveScore(soup, i)
	if !ok {
		if c.P.App.Labs.Live.Running {
			return "…"
		}
		return ""
	}
	return text
}

func (c *Labs) liveAcc(soup bool, i int) string {
	_, row, _ := c.P.App.LiveScore(soup, i)
	return row.Accuracy
}

func (c *Labs) liveTitle(soup bool, i int) any {
	_, row, ok := c.P.App.LiveScore(soup, i)
	if !ok {
		return nil
	}
	if row.Error != "" {
		return row.Error
	}
	return fmt.Sprintf("accuracy %s, loss %s, n %s (ladle eval --json)", row.Accuracy, row.Loss, row.N)
}

func (c *Labs) liveStatus() string {
	l := c.P.App.Labs.Live
	switch {
	case l.Lab != c.P.App.Labs.Open:
		return "Recompute this table (and chart) in the tab."
	case l.Running:
		return fmt.Sprintf("Measuring: %d of %d…", l.Done, l.Total)
	case l.Total > 0:
		return fmt.Sprintf("Measured live: %d figures.", l.Done)
	}
	return ""
}

func (c *Labs) liveChart() *state.Chart { return state.CurveChart(c.P.App.LiveCurve()) }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
