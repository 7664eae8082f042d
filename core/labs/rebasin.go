package labs

import (
	"fmt"

	"ladle/core/eval"
	"ladle/core/nn"
)

// Lab 4: Git Re-Basin (Ainsworth et al., 2023). Two MLPs trained from different
// random initialisations (and data orders) compute similar functions with their
// hidden units in different orders, so averaging their weights naively mixes
// unrelated units: the loss along the straight line between them rises into a
// barrier. Permuting model B's units to match A's (weight matching, eval.Align)
// first makes the path almost flat.

const (
	rebasinTitle   = "Git Re-Basin: align before you average"
	rebasinSummary = "Two digit classifiers trained from different random starts. Averaging them naively loses accuracy (a loss barrier between them); permuting the second model's hidden units to match the first (weight matching) removes most of the barrier."
)

var rebasinDef = def{name: "rebasin", title: rebasinTitle, summary: rebasinSummary, build: buildRebasin}

const rebasinPaper = "Git Re-Basin: Merging Models modulo Permutation Symmetries (Ainsworth, Hayase and Srinivasa, ICLR 2023), https://arxiv.org/abs/2209.04836"

// rebasinSpec is a 64-128-128-128-10 MLP: depth makes the naive barrier high.
var rebasinSpec = archSpec{input: []int{digitsFeatures}, scale: 1.0 / digitsMax,
	layers: []layerSpec{linear("fc1", 128), relu(), linear("fc2", 128), relu(), linear("fc3", 128), relu(), linear("fc4", digitsClasses)}}

// rebasinPoints is the interpolation grid (α = 0, 0.05, …, 1).
const rebasinPoints = 21

func buildRebasin(b *builder) (*Lab, error) {
	sp := splitDigits(b.all, labSplitSeed, labTestFrac, labValFrac)
	ms := make([]map[string]nn.Tensor, 2)
	parallel(2, func(i int) {
		n, _ := newNet(rebasinSpec)
		n.init(uint64(100 + i))
		n.train(sp.train, trainConfig{epochs: 30, batch: 32, lr: 0.1, momentum: 0.9, decay: true, seed: uint64(200 + i)})
		ms[i] = n.tensors()
	})
	lab := &Lab{Title: rebasinTitle, Summary: rebasinSummary, Paper: rebasinPaper, Data: "data.safetensors"}
	files := []string{"model-a.safetensors", "model-b.safetensors"}
	for i, f := range files {
		about := fmt.Sprintf("trained from its own random initialisation (seed %d) with its own data order (seed %d): 30 epochs of SGD, lr 0.1 falling linearly to 0, momentum 0.9",
			100+i, 200+i)
		if err := b.writeModel(f, rebasinSpec, ms[i], about); err != nil {
			return nil, err
		}
		lab.Models = append(lab.Models, ModelInfo{File: f, About: about})
	}
	test, val := sp.test.quantized(), sp.val.quantized()
	if err := b.writeData(lab.Data, test.dataset(""), val.dataset("val")); err != nil {
		return nil, err
	}
	lab.Files = append(files, lab.Data)
	lab.CurveModels = files
	lab.Splits = []SplitInfo{
		{Split: "", About: "test: the curve and the claims are measured here", Samples: test.Len()},
		{Split: "val", About: "validation", Samples: val.Len()},
	}
	naive := "# Naive average: (θ_A + θ_B) / 2, unit by unit, although the units of A and B do not correspond.\n" +
		"merge_method: linear\nmodels:\n  - model: model-a.safetensors\n  - model: model-b.safetensors\ndtype: float32\n"
	aligned := "# Aligned average: permute B's hidden units to match A's (Git Re-Basin weight matching), then average.\n" +
		"merge_method: linear\nmodels:\n  - model: model-a.safetensors\n  - model: model-b.safetensors\ndtype: float32\nladle:\n  align: true\n"
	if err := b.write("naive.yaml", []byte(naive)); err != nil {
		return nil, err
	}
	if err := b.write("aligned.yaml", []byte(aligned)); err != nil {
		return nil, err
	}
	lab.Recipes = []Recipe{{Name: "Naive average", File: "naive.yaml"}, {Name: "Align, then average", File: "aligned.yaml"}}

	// B aligned to A, as the recipe's alignment step does (seed 0).
	bAligned, rep, err := eval.Align(rebasinSpec.Arch(), ms[0], ms[1], 0)
	if err != nil {
		return nil, err
	}
	naiveCurve, err := curve(ms[0], ms[1], test)
	if err != nil {
		return nil, err
	}
	alignedCurve, err := curve(ms[0], bAligned, test)
	if err != nil {
		return nil, err
	}
	naiveBar, _ := eval.Barrier(naiveCurve)
	alignedBar, _ := eval.Barrier(alignedCurve)
	for i, p := range naiveCurve {
		q := alignedCurve[i]
		l, a := round4(q.Loss), round4(q.Accuracy)
		lab.Curve = append(lab.Curve, CurvePoint{Alpha: p.Alpha, Loss: round4(p.Loss), Accuracy: round4(p.Accuracy), AlignedLoss: &l, AlignedAccuracy: &a})
	}

	// The recipes, as the page runs them.
	scores := map[string]float64{}
	for _, r := range lab.Recipes {
		res, err := b.runRecipe(r.File)
		if err != nil {
			return nil, err
		}
		ts, err := res.tensors(rebasinSpec, r.File)
		if err != nil {
			return nil, err
		}
		s, err := evalTensors(rebasinSpec, ts, test, nil)
		if err != nil {
			return nil, err
		}
		scores[r.File] = s.Accuracy
		lab.Results.Soups = append(lab.Results.Soups, Score{Name: r.Name, Accuracy: round4(s.Accuracy), Recipe: r.File})
	}
	for i, f := range files {
		s, err := evalTensors(rebasinSpec, ms[i], test, nil)
		if err != nil {
			return nil, err
		}
		lab.Results.Ingredients = append(lab.Results.Ingredients, Score{Name: f, Accuracy: round4(s.Accuracy), Model: f})
	}
	mid := rebasinPoints / 2
	reduction := 0.0 // how much of the naive barrier alignment removes, in percent
	if naiveBar > 0 {
		reduction = 100 * (1 - alignedBar/naiveBar)
	}
	lab.Numbers = map[string]float64{
		"naive_barrier":             round4(naiveBar),
		"aligned_barrier":           round4(alignedBar),
		"barrier_reduction_percent": round4(reduction),
		"naive_midpoint_accuracy":   round4(naiveCurve[mid].Accuracy),
		"aligned_midpoint_accuracy": round4(alignedCurve[mid].Accuracy),
		"naive_average_accuracy":    round4(scores["naive.yaml"]),
		"aligned_average_accuracy":  round4(scores["aligned.yaml"]),
		"model_a_accuracy":          round4(naiveCurve[0].Accuracy),
		"model_b_accuracy":          round4(naiveCurve[len(naiveCurve)-1].Accuracy),
		"align_sweeps":              float64(rep.Sweeps),
		"distance_before":           round4(rep.DistanceBefore),
		"distance_after":            round4(rep.DistanceAfter),
	}
	lab.Claims = []Claim{
		{Claim: fmt.Sprintf("Aligning B to A first at least halves the loss barrier between them: %.3f → %.3f.", naiveBar, alignedBar),
			Holds: alignedBar <= naiveBar/2},
		{Claim: fmt.Sprintf("The naive average is much worse than either model (%s against %s and %s); the aligned average is not (%s).",
			pct(scores["naive.yaml"]), pct(naiveCurve[0].Accuracy), pct(naiveCurve[len(naiveCurve)-1].Accuracy), pct(scores["aligned.yaml"])),
			Holds: scores["naive.yaml"] < min(naiveCurve[0].Accuracy, naiveCurve[len(naiveCurve)-1].Accuracy) && scores["aligned.yaml"] > scores["naive.yaml"]},
	}
	lab.Try = []string{
		"Press Run merge (naive.yaml is in the editor): the result is evaluated at once on the lab's dataset; press Evaluate to score A and B beside it. The average of two good models is a worse model.",
		"Press Align, then average, and Run merge (ladle: {align: true}): B's hidden units are permuted to match A's first.",
		"Look at the chart: the loss along the straight line from A to B, plain and after alignment. In Live curve, choose the straight line between two models and press Sweep, then again with align first ticked: the loss barrier is printed under the curve.",
		"Try slerp or a weighted linear merge: pick slerp (or linear) in 2. Method, move the slider or press Sweep, with and without ladle: {align: true} in the editor.",
		"Press Measure live: the table and the chart are recomputed in this tab, next to the figures measured when the lab was built.",
	}
	lab.Expect = []string{
		fmt.Sprintf("A and B score %s and %s; their naive average %s, the aligned average %s.",
			pct(naiveCurve[0].Accuracy), pct(naiveCurve[len(naiveCurve)-1].Accuracy), pct(scores["naive.yaml"]), pct(scores["aligned.yaml"])),
		fmt.Sprintf("The loss barrier falls from %.3f to %.3f.", naiveBar, alignedBar),
	}
	return lab, nil
}

// curve evaluates θ(α) = (1 − α)·θA + α·θB on the grid, mixing in float64 and
// rounding once, as eval.Interpolate does.
func curve(a, b map[string]nn.Tensor, d *set) ([]eval.Point, error) {
	var out []eval.Point
	for i := range rebasinPoints {
		alpha := float64(i) / float64(rebasinPoints-1)
		mix := make(map[string]nn.Tensor, len(a))
		for name, ta := range a {
			tb := b[name]
			data := make([]float32, len(ta.Data))
			for j, v := range ta.Data {
				data[j] = float32(float64((1-alpha)*float64(v)) + float64(alpha*float64(tb.Data[j])))
			}
			mix[name] = nn.Tensor{Shape: ta.Shape, Data: data}
		}
		s, err := evalTensors(rebasinSpec, mix, d, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, eval.Point{Alpha: alpha, Loss: s.Loss, Accuracy: s.Accuracy})
	}
	return out, nil
}
