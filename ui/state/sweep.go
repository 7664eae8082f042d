package state

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"ladle/core/lora/ref"
	"ladle/core/merge/info"
	recipe "ladle/core/recipe/spec"
)

// Live curves: the method's main scalar swept over a grid, each point merged and
// evaluated in the engine workers, exactly as `ladle merge` then `ladle eval` of the
// point's recipe (SweepRecipe writes it). The interpolation between two models is the
// sweep of a two-model linear merge's weight, optionally with ladle: {align: true}.

// DefaultSweepPoints is the grid a sweep uses unless told otherwise.
const DefaultSweepPoints = 11

// MaxSweepPoints bounds the grid.
const MaxSweepPoints = 101

// SweepParam is the scalar a recipe's sweep varies.
type SweepParam struct {
	// Name is the recipe parameter ("alpha", "lambda", "density", "t", "weight").
	Name string
	// PerModel parameters are set on every model but the base; Pair is a two-model
	// linear merge, whose weights become 1 − x and x.
	PerModel, Pair bool
	// Min and Max bound the slider; Current is the recipe's value.
	Min, Max, Current float64
	// Label describes the axis ("alpha: 0 is the zero-shot model, 1 the fine-tune").
	Label string
}

// Sweep is the state of the live curve.
type Sweep struct {
	// N is the grid size, From and To its ends (zero To: the parameter's range).
	N        int
	From, To float64
	// Pair interpolation: models A and B (two loaded models) and whether B is aligned
	// to A first; Interp is set while the curve is an interpolation rather than the
	// recipe's own parameter.
	Interp bool
	A, B   string
	Align  bool

	Running bool
	ID      int
	Err     string
	// Param is what the running or shown curve varies; Base the recipe it varies.
	Param  SweepParam
	Base   string
	Points []SweepPoint
	// Dataset and Split the points were measured on.
	Dataset, Split string
}

// SweepPoint is one point of the curve: the parameter value and, once answered, the
// strings `ladle eval --json` prints for its merge.
type SweepPoint struct {
	X                 float64
	Recipe            string
	Accuracy, Loss, N string
	Error             string
	Done              bool
}

// SweepParamOf finds the main scalar of a recipe's method: the parameter the
// registry marks as swept (info.Param.Sweep). ok is false, with the reason, when the
// method has none or the recipe cannot be swept as it stands.
func SweepParamOf(r *recipe.Recipe, methods []info.Method) (p SweepParam, reason string, ok bool) {
	num := func(s recipe.Setting, def float64) float64 {
		if f, ok := s.Scalar.(float64); ok {
			return f
		}
		if len(s.Gradient) > 0 {
			return s.Gradient[0]
		}
		return def
	}
	var q *info.Param
	var sweepable []string
	for i := range methods {
		for j := range methods[i].Params {
			if methods[i].Params[j].Sweep == "" {
				continue
			}
			sweepable = append(sweepable, methods[i].Name)
			if methods[i].Name == r.MergeMethod {
				q = &methods[i].Params[j]
			}
		}
	}
	if q == nil {
		return SweepParam{}, fmt.Sprintf("%s has no main scalar to sweep (the page sweeps the main scalar of %s; or interpolate between two models below)",
			r.MergeMethod, strings.Join(sweepable, ", ")), false
	}
	def, _ := q.Default.(float64)
	if q.Default == nil && q.Min != nil && q.Max != nil {
		def = (*q.Min + *q.Max) / 2 // a required parameter such as slerp's t
	}
	others := nonBase(r)
	switch {
	case q.SweepPair:
		if len(others) != 2 {
			return SweepParam{}, fmt.Sprintf("a %s merge of %d models has no single %s to sweep; pick two models (or interpolate between two below)", r.MergeMethod, len(others), q.Name), false
		}
		a, b := r.Models[others[0]], r.Models[others[1]]
		w0, w1 := num(a.Parameters[q.Name], def), num(b.Parameters[q.Name], def)
		p = SweepParam{Name: q.Name, Pair: true, Min: 0, Max: 1, Current: 0.5,
			Label: q.Name + " of " + b.Path + ": 0 is " + a.Path + ", 1 is " + b.Path}
		if w0+w1 != 0 {
			p.Current = w1 / (w0 + w1)
		}
		return p, "", true
	case q.PerModel:
		p = SweepParam{Name: q.Name, PerModel: true, Current: num(r.Parameters[q.Name], def), Label: q.Sweep}
		for _, i := range others {
			if s, has := r.Models[i].Parameters[q.Name]; has {
				p.Current = num(s, p.Current)
				break
			}
		}
	default:
		p = SweepParam{Name: q.Name, Current: num(r.Parameters[q.Name], def), Label: q.Sweep}
	}
	// the slider's range: the parameter's bounds; an unbounded scale (lambda) runs from
	// 0 to past the recipe's value
	p.Min, p.Max = 0, math.Max(2, math.Ceil(math.Abs(p.Current)*1.5))
	if q.Min != nil {
		p.Min = *q.Min
	}
	if q.Max != nil {
		p.Max = *q.Max
	}
	return p, "", true
}

// nonBase is the indexes of the recipe's models that are not its base.
func nonBase(r *recipe.Recipe) []int {
	var out []int
	for i, m := range r.Models {
		if r.BaseModel == "" || m.Path != r.BaseModel {
			out = append(out, i)
		}
	}
	return out
}

// sweepText is the recipe text with the parameter set to x (SweepRecipe), remembered
// as parsed so that the page can load it at once.
func (a *App) sweepText(text string, p SweepParam, x float64) (string, error) {
	base, err, ok := a.parse(text)
	switch {
	case !ok:
		return "", fmt.Errorf("the recipe is still being checked")
	case err != nil:
		return "", err
	}
	r, err := SweepRecipe(base, p, x)
	if err != nil {
		return "", err
	}
	out := string(r.Normalise())
	a.remember(out, r, nil)
	return out, nil
}

// SweepRecipe is the recipe (a copy of base) with the parameter set to x; its
// normalised YAML is the text both the page and `ladle merge` run for that point.
func SweepRecipe(base *recipe.Recipe, p SweepParam, x float64) (*recipe.Recipe, error) {
	r := cloneRecipe(base)
	x = roundGrid(x)
	switch {
	case p.Pair:
		others := nonBase(r)
		if len(others) != 2 {
			return nil, fmt.Errorf("the recipe no longer merges two models")
		}
		for k, w := range []float64{roundGrid(1 - x), x} {
			i := others[k]
			if r.Models[i].Parameters == nil {
				r.Models[i].Parameters = map[string]recipe.Setting{}
			}
			r.Models[i].Parameters[p.Name] = recipe.Scalar(w)
		}
	case p.PerModel:
		for i, m := range r.Models {
			if m.Path == r.BaseModel {
				continue
			}
			if m.Parameters == nil {
				r.Models[i].Parameters = map[string]recipe.Setting{}
			}
			r.Models[i].Parameters[p.Name] = recipe.Scalar(x)
		}
	default:
		if r.Parameters == nil {
			r.Parameters = map[string]recipe.Setting{}
		}
		r.Parameters[p.Name] = recipe.Scalar(x)
	}
	return r, nil
}

// cloneRecipe copies what SweepRecipe changes: the models and the parameter maps.
func cloneRecipe(base *recipe.Recipe) *recipe.Recipe {
	r := *base
	r.Parameters = maps.Clone(base.Parameters)
	r.Models = slices.Clone(base.Models)
	for i := range r.Models {
		r.Models[i].Parameters = maps.Clone(r.Models[i].Parameters)
	}
	return &r
}

// roundGrid drops float noise (0.30000000000000004 → 0.3) so that recipes read well.
func roundGrid(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 10, 64), 64)
	if v == 0 {
		return 0 // no -0 in a recipe
	}
	return v
}

// Grid is the sweep's parameter values: n points from lo to hi, both included.
func Grid(lo, hi float64, n int) []float64 {
	if n < 2 {
		n = 2
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = roundGrid(lo + (hi-lo)*float64(i)/float64(n-1))
	}
	return out
}

// SweepTarget is what Sweep would vary now: the interpolation between A and B, or the
// recipe's main scalar; ok false with the reason when there is nothing to sweep.
func (a *App) SweepTarget() (base string, p SweepParam, reason string, ok bool) {
	if a.Sweep.Interp {
		if a.Sweep.A == "" || a.Sweep.B == "" || a.Sweep.A == a.Sweep.B {
			return "", SweepParam{}, "Pick two different models to interpolate between.", false
		}
		r := &recipe.Recipe{MergeMethod: "linear", Models: []recipe.Model{{Path: a.Sweep.A}, {Path: a.Sweep.B}}, DType: "float32"}
		r.Ladle.Align = a.Sweep.Align
		base = string(r.Normalise())
		a.remember(base, r, nil)
		p = SweepParam{Name: "weight", Pair: true, Min: 0, Max: 1, Current: 0,
			Label: "alpha: 0 is " + a.Sweep.A + ", 1 is " + a.Sweep.B}
		if a.Sweep.Align {
			p.Label += " (aligned to it first)"
		}
		return base, p, "", true
	}
	if a.RecipeErr != "" {
		return "", SweepParam{}, "Fix the recipe first.", false
	}
	r, err, parsed := a.parse(a.RecipeText)
	switch {
	case !parsed:
		return "", SweepParam{}, "The recipe is still being checked.", false
	case err != nil:
		return "", SweepParam{}, err.Error(), false
	}
	p, reason, ok = SweepParamOf(r, a.Methods)
	return a.RecipeText, p, reason, ok
}

// CanSweep reports whether Sweep may start, and why not.
func (a *App) CanSweep() (bool, string) {
	if a.Sweep.Running {
		return false, "Sweeping…"
	}
	if a.Eval.Dataset == "" {
		return false, "Load a dataset first: each point is merged and evaluated on it."
	}
	if _, _, reason, ok := a.SweepTarget(); !ok {
		return false, reason
	}
	return true, ""
}

// SweepRange is the grid's ends: the typed ones, else the parameter's range.
func (a *App) SweepRange(p SweepParam) (lo, hi float64) {
	lo, hi = p.Min, p.Max
	if a.Sweep.From != 0 || a.Sweep.To != 0 {
		lo, hi = a.Sweep.From, a.Sweep.To
	}
	return lo, hi
}

// SweepN is the grid size.
func (a *App) SweepN() int {
	if a.Sweep.N < 2 {
		return DefaultSweepPoints
	}
	return min(a.Sweep.N, MaxSweepPoints)
}

// StartSweep lays out the grid's recipes and returns the sweep's ID.
func (a *App) StartSweep() (int, error) {
	base, p, reason, ok := a.SweepTarget()
	if !ok {
		return 0, fmt.Errorf("%s", reason)
	}
	lo, hi := a.SweepRange(p)
	var pts []SweepPoint
	for _, x := range Grid(lo, hi, a.SweepN()) {
		text, err := a.sweepText(base, p, x)
		if err != nil {
			return 0, err
		}
		pts = append(pts, SweepPoint{X: x, Recipe: text})
	}
	a.Sweep.ID++
	a.Sweep.Running, a.Sweep.Err = true, ""
	a.Sweep.Param, a.Sweep.Base, a.Sweep.Points = p, base, pts
	a.Sweep.Dataset, a.Sweep.Split = a.Eval.Dataset, a.Eval.Split
	return a.Sweep.ID, nil
}

// OnSweepPoint records the score of point i of sweep id.
func (a *App) OnSweepPoint(id, i int, row EvalRow) {
	if id != a.Sweep.ID || i < 0 || i >= len(a.Sweep.Points) {
		return
	}
	pt := &a.Sweep.Points[i]
	pt.Accuracy, pt.Loss, pt.N, pt.Error, pt.Done = row.Accuracy, row.Loss, row.N, row.Error, true
}

// OnSweepEnd ends sweep id; msg is why it failed ("" when it did not).
func (a *App) OnSweepEnd(id int, msg string) {
	if id != a.Sweep.ID {
		return
	}
	a.Sweep.Running, a.Sweep.Err = false, msg
}

// SweepDone counts the answered points.
func (s Sweep) SweepDone() int {
	n := 0
	for _, p := range s.Points {
		if p.Done {
			n++
		}
	}
	return n
}

// curvePoints are the answered points without errors, in x order.
func (s Sweep) curvePoints() (xs []float64, pts []CurvePoint) {
	for _, p := range s.Points {
		if !p.Done || p.Error != "" {
			continue
		}
		acc, err1 := strconv.ParseFloat(p.Accuracy, 64)
		loss, err2 := strconv.ParseFloat(p.Loss, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		xs = append(xs, p.X)
		pts = append(pts, CurvePoint{Alpha: p.X, Accuracy: acc, Loss: loss})
	}
	return xs, pts
}

// PointsJSON is the curve's data-points attribute: [{"x", "accuracy", "loss"}], the
// numbers exactly as `ladle eval --json` prints them.
func (s Sweep) PointsJSON() string {
	var parts []string
	for _, p := range s.Points {
		if !p.Done || p.Error != "" {
			continue
		}
		x, _ := json.Marshal(p.X)
		parts = append(parts, fmt.Sprintf(`{"x":%s,"accuracy":%s,"loss":%s}`, x, p.Accuracy, p.Loss))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// SweepChart is the chart of a sweep: the interpolation chart's geometry, the dots in
// x order (Xs gives each dot's parameter value), and the current value marked.
type SweepChart struct {
	*Chart
	Xs []float64
	// MarkX is the x of the current value's vertical line ("" when it is off the plot).
	MarkX string
	// XLabel names the axis.
	XLabel string
	// Barrier describes the loss barrier of an interpolation ("" otherwise).
	Barrier string
}

// Chart lays the sweep out; nil with fewer than two answered points.
func (s Sweep) Chart(current float64) *SweepChart {
	xs, pts := s.curvePoints()
	c := CurveChart(pts)
	if c == nil {
		return nil
	}
	sc := &SweepChart{Chart: c, Xs: xs, XLabel: s.Param.Label}
	x0, x1 := xs[0], xs[len(xs)-1]
	if x1 > x0 && current >= x0 && current <= x1 {
		sc.MarkX = coord(plotL + (current-x0)/(x1-x0)*(plotR-plotL))
	}
	name := s.Param.Name
	if s.Interp {
		name = "alpha"
	}
	for i := range c.AccDots {
		c.AccDots[i].Label = fmt.Sprintf("%s %s: accuracy %s; click to merge this point", name, trimFloat(xs[i]), Percent(pts[i].Accuracy))
		c.LossDots[i].Label = fmt.Sprintf("%s %s: loss %.4g; click to merge this point", name, trimFloat(xs[i]), pts[i].Loss)
	}
	c.Summary = strings.Replace(c.Summary, "between alpha", "between "+name, 1)
	c.Summary = strings.Replace(c.Summary, "is at alpha", "is at "+name, 1)
	if s.Interp && len(pts) == len(s.Points) {
		b, at := Barrier(pts)
		sc.Barrier = fmt.Sprintf("Loss barrier %.4g at alpha %s.", b, trimFloat(at))
	}
	return sc
}

// Barrier is the loss barrier of an interpolation curve (METHODS.md, "Loss barrier
// along an interpolation path"): max over the points of L(α) − ((1 − α)·L(0) + α·L(1)),
// the ends being the points of smallest and largest α, and the α where it is reached
// (the first on ties). It equals ladle/core/eval.Barrier (tested), which the page does
// not link to keep the network code out of app.wasm.
func Barrier(points []CurvePoint) (barrier, alpha float64) {
	if len(points) == 0 {
		return math.NaN(), math.NaN()
	}
	first, last := points[0], points[0]
	for _, p := range points {
		if p.Alpha < first.Alpha {
			first = p
		}
		if p.Alpha > last.Alpha {
			last = p
		}
	}
	alpha = first.Alpha
	for _, p := range sortedByAlpha(points) {
		t := 0.0
		if last.Alpha > first.Alpha {
			t = (p.Alpha - first.Alpha) / (last.Alpha - first.Alpha)
		}
		if gap := p.Loss - ((1-t)*first.Loss + t*last.Loss); gap > barrier {
			barrier, alpha = gap, p.Alpha
		}
	}
	return barrier, alpha
}

func sortedByAlpha(points []CurvePoint) []CurvePoint {
	ps := append([]CurvePoint(nil), points...)
	for i := 1; i < len(ps); i++ { // insertion sort: stable, and grids are short
		for j := i; j > 0 && ps[j].Alpha < ps[j-1].Alpha; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
	return ps
}

// SweepValue is the slider's value: the recipe's current value of the swept
// parameter (NaN when there is none).
func (a *App) SweepValue() float64 {
	if a.Sweep.Interp {
		return math.NaN()
	}
	_, p, _, ok := a.SweepTarget()
	if !ok {
		return math.NaN()
	}
	return p.Current
}

// SetSweepValue sets the swept parameter in the recipe to x (the slider moved, or a
// point of the curve was clicked).
func (a *App) SetSweepValue(x float64) error {
	base, p, reason, ok := a.SweepTarget()
	if !ok {
		return fmt.Errorf("%s", reason)
	}
	text, err := a.sweepText(base, p, x)
	if err != nil {
		return err
	}
	a.SetRecipeText(text)
	return nil
}

// PointRecipe is the recipe of point i of the shown sweep ("" when there is none).
func (s Sweep) PointRecipe(i int) string {
	if i < 0 || i >= len(s.Points) {
		return ""
	}
	return s.Points[i].Recipe
}

// SetInterp switches the curve between the recipe's parameter and the interpolation
// between two models; a and b default to the first two loaded models.
func (a *App) SetInterp(on bool) {
	a.Sweep.Interp = on
	names := a.EvalModels()
	if on && a.Sweep.A == "" && len(names) > 0 {
		a.Sweep.A = names[0]
	}
	if on && a.Sweep.B == "" {
		for _, n := range names {
			if n != a.Sweep.A {
				a.Sweep.B = n
				break
			}
		}
	}
}

// filesGone forgets what the live curve holds of files that were removed or replaced:
// the curve, when its recipe names one of them (its points were measured on other
// files and could no longer be merged), and the straight line's ends, which move to
// the first loaded models.
func (a *App) filesGone(names []string) {
	if len(names) == 0 {
		return
	}
	if len(a.Sweep.Points) > 0 && (slices.Contains(names, a.Sweep.Dataset) || recipeNames(a, a.Sweep.Base, names)) {
		if a.Sweep.Running {
			a.Sweep.ID++ // its late answers are ignored
		}
		a.Sweep.Running, a.Sweep.Err, a.Sweep.Points, a.Sweep.Base = false, "", nil, ""
		a.Sweep.Param = SweepParam{}
	}
	if slices.Contains(names, a.Sweep.A) {
		a.Sweep.A = ""
	}
	if slices.Contains(names, a.Sweep.B) {
		a.Sweep.B = ""
	}
}

// pairDefaults gives the straight line's unset ends the first loaded models.
func (a *App) pairDefaults() {
	if a.Sweep.Interp {
		a.SetInterp(true)
	}
}

// recipeNames reports whether the recipe text names any of the files: by its parse
// when the page has one, else by the names' appearance in the text.
func recipeNames(a *App, text string, names []string) bool {
	if r, err, ok := a.parse(text); ok && err == nil {
		paths := r.ModelPaths()
		for _, p := range paths {
			base, dir, adapted := ref.Split(p)
			for _, n := range names {
				if p == n || (adapted && (base == n || dir == n)) {
					return true
				}
			}
		}
		return false
	}
	for _, n := range names {
		if strings.Contains(text, n) {
			return true
		}
	}
	return false
}
