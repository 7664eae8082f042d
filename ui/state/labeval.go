package state

import (
	"fmt"
	"strconv"

	recipe "ladle/core/recipe/spec"
)

// Measuring a lab live: every figure of the open lab's table recomputed in the tab on
// the lab's dataset (ingredients evaluated, recipes merged and evaluated), and its
// interpolation curve swept, next to the figures measured when the lab was built.

// LabLive is the open lab's live figures.
type LabLive struct {
	Running bool
	ID      int
	Err     string
	Lab     string // the lab measured
	// Scores are keyed by ScoreKey; a figure the page cannot measure has Error set.
	Scores map[string]EvalRow
	// Curve and Aligned are the live interpolation curve (plain and after alignment),
	// one entry per build-time point, Done once answered.
	Curve, Aligned []SweepPoint
	Done, Total    int
}

// ScoreKey names a lab figure: "ingredients/3" or "soups/0".
func ScoreKey(soup bool, i int) string {
	if soup {
		return "soups/" + strconv.Itoa(i)
	}
	return "ingredients/" + strconv.Itoa(i)
}

// LabJob is one figure to measure: a checkpoint of the lab (Model) or the merge of one
// of its recipes (Recipe, a file of the lab; RecipeText once fetched) on Split, or a
// curve point (Curve "plain" or "aligned", index Point, the recipe in RecipeText).
type LabJob struct {
	Key        string
	Split      string
	Model      string
	Recipe     string
	RecipeText string
	Curve      string
	Point      int
}

// LabJobs lists what "measure live" computes for the open lab, and marks the figures
// it cannot (a task head) with their reason. The render lock is held.
func (a *App) LabJobs() []LabJob {
	lab := a.Labs.Lab
	if lab == nil {
		return nil
	}
	var jobs []LabJob
	add := func(soup bool, i int, s Score) {
		key := ScoreKey(soup, i)
		split := s.Split
		if split == "" {
			split = TestSplit
		}
		switch {
		case s.Head != "":
			a.Labs.Live.Scores[key] = EvalRow{Model: s.Name, Error: "not measured live: " + s.Head}
		case s.Model != "":
			jobs = append(jobs, LabJob{Key: key, Split: split, Model: s.Model})
		case s.Recipe != "":
			jobs = append(jobs, LabJob{Key: key, Split: split, Recipe: s.Recipe})
		default:
			a.Labs.Live.Scores[key] = EvalRow{Model: s.Name, Error: "not measured live: the lab does not say which file or recipe this figure is"}
		}
	}
	for i, s := range lab.Results.Ingredients {
		add(false, i, s)
	}
	for i, s := range lab.Results.Soups {
		add(true, i, s)
	}
	if len(lab.Curve) > 1 && len(lab.CurveModels) == 2 {
		a.Labs.Live.Curve = make([]SweepPoint, len(lab.Curve))
		for i, p := range lab.Curve {
			a.Labs.Live.Curve[i].X = p.Alpha
			jobs = append(jobs, LabJob{Key: fmt.Sprintf("curve/%d", i), Split: TestSplit, Curve: "plain", Point: i})
		}
		if lab.Curve[0].AlignedLoss != nil {
			a.Labs.Live.Aligned = make([]SweepPoint, len(lab.Curve))
			for i, p := range lab.Curve {
				a.Labs.Live.Aligned[i].X = p.Alpha
				jobs = append(jobs, LabJob{Key: fmt.Sprintf("aligned/%d", i), Split: TestSplit, Curve: "aligned", Point: i})
			}
		}
	}
	for i, j := range jobs {
		if j.Curve == "" {
			continue
		}
		text, err := a.sweepText(a.labCurveBase(j.Curve == "aligned"), SweepParam{Name: "weight", Pair: true}, lab.Curve[j.Point].Alpha)
		if err == nil {
			jobs[i].RecipeText = text
		}
	}
	return jobs
}

// labCurveBase is the two-model linear recipe of the lab's curve.
func (a *App) labCurveBase(align bool) string {
	lab := a.Labs.Lab
	r := &recipe.Recipe{MergeMethod: "linear", Models: []recipe.Model{{Path: lab.CurveModels[0]}, {Path: lab.CurveModels[1]}}, DType: "float32"}
	r.Ladle.Align = align
	text := string(r.Normalise())
	a.remember(text, r, nil)
	return text
}

// StartLabLive begins measuring the open lab and returns the jobs and the run's ID.
func (a *App) StartLabLive() (int, []LabJob) {
	id := a.Labs.Live.ID + 1
	a.Labs.Live = LabLive{Running: true, ID: id, Lab: a.Labs.Open, Scores: map[string]EvalRow{}}
	jobs := a.LabJobs()
	a.Labs.Live.Total = len(jobs)
	return id, jobs
}

// OnLabJob records the answer to one job of run id.
func (a *App) OnLabJob(id int, j LabJob, row EvalRow) {
	l := &a.Labs.Live
	if id != l.ID {
		return
	}
	l.Done++
	switch j.Curve {
	case "plain", "aligned":
		pts := l.Curve
		if j.Curve == "aligned" {
			pts = l.Aligned
		}
		if j.Point < len(pts) {
			p := &pts[j.Point]
			p.Accuracy, p.Loss, p.N, p.Error, p.Done = row.Accuracy, row.Loss, row.N, row.Error, true
		}
	default:
		l.Scores[j.Key] = row
	}
}

// OnLabLiveEnd ends run id; msg is why it failed ("" when it did not).
func (a *App) OnLabLiveEnd(id int, msg string) {
	if id == a.Labs.Live.ID {
		a.Labs.Live.Running, a.Labs.Live.Err = false, msg
	}
}

// LiveScore is the live figure of a lab score ("" while there is none), and the row.
func (a *App) LiveScore(soup bool, i int) (text string, row EvalRow, ok bool) {
	if a.Labs.Live.Lab != a.Labs.Open || a.Labs.Live.Scores == nil {
		return "", EvalRow{}, false
	}
	row, ok = a.Labs.Live.Scores[ScoreKey(soup, i)]
	if !ok {
		return "", row, false
	}
	if row.Error != "" {
		return "—", row, true
	}
	return fmt.Sprintf("%.2f%%", 100*row.Acc()), row, true
}

// LiveCurve is the lab's live curve, in the lab chart's form (nil until every plain
// point is in).
func (a *App) LiveCurve() []CurvePoint {
	l := a.Labs.Live
	if l.Lab != a.Labs.Open || len(l.Curve) == 0 {
		return nil
	}
	var out []CurvePoint
	for i, p := range l.Curve {
		if !p.Done || p.Error != "" {
			return nil
		}
		acc, _ := strconv.ParseFloat(p.Accuracy, 64)
		loss, _ := strconv.ParseFloat(p.Loss, 64)
		cp := CurvePoint{Alpha: p.X, Accuracy: acc, Loss: loss}
		if i < len(l.Aligned) && l.Aligned[i].Done && l.Aligned[i].Error == "" {
			aa, _ := strconv.ParseFloat(l.Aligned[i].Accuracy, 64)
			al, _ := strconv.ParseFloat(l.Aligned[i].Loss, 64)
			cp.AlignedAccuracy, cp.AlignedLoss = &aa, &al
		}
		out = append(out, cp)
	}
	if len(l.Aligned) > 0 {
		for _, p := range out {
			if p.AlignedLoss == nil {
				return nil
			}
		}
	}
	return out
}
