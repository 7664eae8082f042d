package labs

import (
	"errors"
	"fmt"
	"strings"

	"ladle/core/eval"
	"ladle/core/nn"
)

// Lab 5: merging fine-tunes of four tasks into one multi-task model, the benchmark
// of task arithmetic, TIES, PCB, TSV-M and Iso-C (there: ViT-B/32 on eight image
// tasks). Four tasks are made from MNIST's digits seen differently (upright, rotated
// a quarter turn, colour-inverted, shifted), each with its own test and validation
// split. One base MLP is pre-trained on all four views at once, as a broad
// pre-training would be; four copies are fine-tuned, one per task. Every method merges the four task vectors into one network;
// each method's λ is chosen on the validation splits (the best mean accuracy), and
// the table reports the held-out test splits, with the fine-tunes, each on its own
// task, as the ceiling.

const (
	multitaskTitle   = "Multi-task merging: task arithmetic, TIES, PCB, TSV-M and Iso-C"
	multitaskSummary = "One MNIST classifier fine-tuned on four tasks (upright, rotated, colour-inverted and shifted digits). Five data-free merging methods fold the four fine-tunes into one network; the table compares each task's accuracy and the average with the fine-tunes themselves, the ceiling."
)

var multitaskDef = def{name: "multitask", title: multitaskTitle, summary: multitaskSummary, build: buildMultitask}

const multitaskPaper = "Task arithmetic (Ilharco et al., ICLR 2023, https://arxiv.org/abs/2212.04089); TIES-Merging (Yadav et al., NeurIPS 2023, https://arxiv.org/abs/2306.01708); PCB-Merging (Du et al., NeurIPS 2024, https://arxiv.org/abs/2410.02396); Task Singular Vectors (Gargiulo et al., CVPR 2025, https://arxiv.org/abs/2412.00081); Iso-C (Marczak et al., ICML 2025, https://arxiv.org/abs/2502.04959)"

var mtSpec = archSpec{input: []int{mnistFeatures}, scale: 1.0 / mnistMax,
	layers: []layerSpec{linear("fc1", 128), relu(), linear("fc2", 64), relu(), linear("fc3", digitsClasses)}}

// mtTask is one task: a way of showing the digits.
type mtTask struct {
	name, about string
	show        func(px []float32)
}

var mtTasks = []mtTask{
	{"upright", "the digits as MNIST has them", func([]float32) {}},
	{"rotated", "the digits turned a quarter turn clockwise", rotate90},
	{"inverted", "the digits colour-inverted (white background, black ink)", invert},
	{"shifted", "the digits moved 3 pixels right and 3 down (of 14)", func(px []float32) { shiftMNIST(px, 3, 3) }},
}

// mtMethod is one merging method of the table, with the recipe's fixed parameters.
type mtMethod struct {
	name, file, method, params string
}

var mtMethods = []mtMethod{
	{"Task arithmetic", "task-arithmetic.yaml", "task_arithmetic", ""},
	{"TIES", "ties.yaml", "ties", "density: 0.2, "},
	{"PCB", "pcb.yaml", "pcb", "density: 0.1, "},
	{"TSV-M", "tsv.yaml", "tsv_merge", ""},
	{"Iso-C", "iso-c.yaml", "iso_c", ""},
}

// mtLambdas is the λ grid every method is tuned on.
func mtLambdas() []float64 { return grid(0.05, 1, 0.05) }

const (
	mtPretrain = 5000 // training images 5000..9999: the base's pre-training
	mtFinetune = 5000 // training images 0..4999: each task's fine-tuning
	mtVal      = 500  // training images 10000..10499: validation, λ chosen here
	mtTest     = 1000 // test images 0..999: the held-out test of every task
)

func mtRecipe(m mtMethod, files []string, lambda float64, comment string) string {
	s := comment + "merge_method: " + m.method + "\nbase_model: base.safetensors\nmodels:\n"
	for _, f := range files {
		s += "  - model: " + f + "\n"
	}
	return s + fmt.Sprintf("parameters: {%slambda: %g}\ndtype: float32\n", m.params, lambda)
}

func buildMultitask(b *builder) (*Lab, error) {
	dir, err := mnistDir()
	if err != nil {
		return nil, err
	}
	train, err := loadMNIST(dir, "train", mtFinetune+mtPretrain+mtVal)
	if err != nil {
		return nil, err
	}
	test, err := loadMNIST(dir, "t10k", mtTest)
	if err != nil {
		return nil, err
	}
	span := func(lo, n int) []int {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = lo + i
		}
		return idx
	}
	ftSet, preSet, valSet := train.subset(span(0, mtFinetune)), train.subset(span(mtFinetune, mtPretrain)), train.subset(span(mtFinetune+mtPretrain, mtVal))

	base, err := newNet(mtSpec)
	if err != nil {
		return nil, err
	}
	base.init(51)
	// Pre-training sees every view, as a broad pre-training would: each sample is
	// shown one of the four ways at random.
	anyView := func(g *rng, px []float32) { mtTasks[g.intn(len(mtTasks))].show(px) }
	base.train(preSet, trainConfig{epochs: 6, batch: 32, lr: 0.02, momentum: 0.9, decay: true, seed: 52, augment: anyView})
	baseT := base.tensors()
	tuned := make([]map[string]nn.Tensor, len(mtTasks))
	parallel(len(mtTasks), func(i int) {
		n, _ := newNet(mtSpec)
		_ = n.load(baseT)
		show := mtTasks[i].show
		n.train(ftSet.mapped(func(_ int, px []float32) { show(px) }),
			trainConfig{epochs: 3, batch: 32, lr: 0.02, momentum: 0.9, decay: true, seed: uint64(61 + i)})
		tuned[i] = n.tensors()
	})

	lab := &Lab{Title: multitaskTitle, Summary: multitaskSummary, Paper: multitaskPaper, Data: "data.safetensors"}
	files := []string{"base.safetensors"}
	abouts := []string{fmt.Sprintf("base: 6 epochs of SGD (lr 0.02 decaying to 0, momentum 0.9) on %d MNIST digits (halved to 14×14), each shown one of the four tasks' ways at random; the pre-trained start of every fine-tune", mtPretrain)}
	for _, t := range mtTasks {
		files = append(files, "ft-"+t.name+".safetensors")
		abouts = append(abouts, fmt.Sprintf("task %s: the base fine-tuned for 3 epochs (lr 0.02 decaying to 0, momentum 0.9) on %d other training digits, %s", t.name, mtFinetune, t.about))
	}
	for i, ts := range append([]map[string]nn.Tensor{baseT}, tuned...) {
		if err := b.writeModel(files[i], mtSpec, ts, abouts[i]); err != nil {
			return nil, err
		}
		lab.Models = append(lab.Models, ModelInfo{File: files[i], About: abouts[i]})
	}

	// Each task's test and validation split: the same digits, shown its way.
	tests, vals := make([]*set, len(mtTasks)), make([]*set, len(mtTasks))
	all := &set{f: mnistFeatures}
	for i, t := range mtTasks {
		show := t.show
		tests[i] = test.mapped(func(_ int, px []float32) { show(px) })
		vals[i] = valSet.mapped(func(_ int, px []float32) { show(px) })
		all.x, all.y = append(all.x, tests[i].x...), append(all.y, tests[i].y...)
	}
	splits := []*setSplit{{all, "", fmt.Sprintf("test, the four tasks together (%d digits each): its accuracy is the mean of the tasks'", mtTest)}}
	for i, t := range mtTasks {
		splits = append(splits, &setSplit{tests[i], t.name, "test, task " + t.name + ": " + t.about})
	}
	for i, t := range mtTasks {
		splits = append(splits, &setSplit{vals[i], "val-" + t.name, "validation, task " + t.name + ": λ is chosen here"})
	}
	var ds []*eval.Dataset
	for _, s := range splits {
		ds = append(ds, mnistDataset(s.s, s.name))
		lab.Splits = append(lab.Splits, SplitInfo{Split: s.name, About: s.about, Samples: s.s.Len()})
	}
	if err := b.writeData(lab.Data, ds...); err != nil {
		return nil, err
	}
	lab.Files = append(files, lab.Data)

	// accs scores weights on every task of sets.
	accs := func(ts map[string]nn.Tensor, sets []*set) ([]float64, float64, error) {
		out := make([]float64, len(sets))
		var mean float64
		for i, s := range sets {
			sc, err := evalTensors(mtSpec, ts, s, nil)
			if err != nil {
				return nil, 0, err
			}
			out[i] = sc.Accuracy
			mean += sc.Accuracy / float64(len(sets))
		}
		return out, mean, nil
	}

	table := &Table{Tasks: make([]string, len(mtTasks))}
	for i, t := range mtTasks {
		table.Tasks[i] = t.name
	}
	addRow := func(name, recipe string, lambda float64, task []float64) TableRow {
		r := TableRow{Name: name, Recipe: recipe, Lambda: lambda}
		var mean float64
		for _, a := range task {
			r.Accuracy = append(r.Accuracy, round4(a))
			mean += a / float64(len(task))
		}
		r.Average = round4(mean)
		table.Rows = append(table.Rows, r)
		return r
	}
	baseTest, _, err := accs(baseT, tests)
	if err != nil {
		return nil, err
	}
	baseRow := addRow("Base (pre-trained)", "", 0, baseTest)
	ceiling := make([]float64, len(mtTasks))
	for i := range mtTasks {
		sc, err := evalTensors(mtSpec, tuned[i], tests[i], nil)
		if err != nil {
			return nil, err
		}
		ceiling[i] = sc.Accuracy
	}
	ceilRow := addRow("Fine-tunes, each on its own task (the ceiling)", "", 0, ceiling)

	rows := map[string]TableRow{}
	for _, m := range mtMethods {
		// The λ with the best mean validation accuracy (the first on ties), each λ
		// merged and scored on its own, in parallel.
		lambdas := mtLambdas()
		means := make([]float64, len(lambdas))
		errs := make([]error, len(lambdas))
		parallel(len(lambdas), func(i int) {
			r, err := b.runRecipeText(m.file, []byte(mtRecipe(m, files[1:], lambdas[i], "")))
			if err != nil {
				errs[i] = err
				return
			}
			ts, err := r.tensors(mtSpec, m.file)
			if err != nil {
				errs[i] = err
				return
			}
			_, means[i], errs[i] = accs(ts, vals)
		})
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		best, bestVal := 0.0, -1.0
		for i, l := range lambdas {
			if means[i] > bestVal {
				best, bestVal = l, means[i]
			}
		}
		text := mtRecipe(m, files[1:], best, fmt.Sprintf("# %s of the four fine-tunes; λ = %g was chosen on the validation splits (best mean accuracy, %s).\n", m.name, best, pct(bestVal)))
		if err := b.write(m.file, []byte(text)); err != nil {
			return nil, err
		}
		lab.Recipes = append(lab.Recipes, Recipe{Name: m.name, File: m.file})
		r, err := b.runRecipe(m.file)
		if err != nil {
			return nil, err
		}
		ts, err := r.tensors(mtSpec, m.file)
		if err != nil {
			return nil, err
		}
		task, _, err := accs(ts, tests)
		if err != nil {
			return nil, err
		}
		rows[m.name] = addRow(m.name, m.file, best, task)
	}
	lab.Table = table

	for i, t := range mtTasks {
		lab.Results.Ingredients = append(lab.Results.Ingredients, Score{Name: files[i+1] + " on " + t.name, Accuracy: round4(ceiling[i]), Split: t.name, Model: files[i+1]})
	}
	lab.Results.Ingredients = append(lab.Results.Ingredients, Score{Name: "base.safetensors, mean of the tasks", Accuracy: baseRow.Average, Model: "base.safetensors"})
	for _, m := range mtMethods {
		lab.Results.Soups = append(lab.Results.Soups, Score{Name: m.name + ", mean of the tasks", Accuracy: rows[m.name].Average, Recipe: m.file})
	}
	lab.Numbers = map[string]float64{"base_average": baseRow.Average, "ceiling_average": ceilRow.Average}
	for _, m := range mtMethods {
		key := strings.ToLower(strings.NewReplacer(" ", "_", "-", "_").Replace(m.name))
		lab.Numbers[key+"_average"] = rows[m.name].Average
		lab.Numbers[key+"_lambda"] = rows[m.name].Lambda
		for i, t := range mtTasks {
			lab.Numbers[key+"_"+t.name] = rows[m.name].Accuracy[i]
		}
	}
	for i, t := range mtTasks {
		lab.Numbers["base_"+t.name] = baseRow.Accuracy[i]
		lab.Numbers["ceiling_"+t.name] = ceilRow.Accuracy[i]
	}
	lab.Claims = mtClaims(table)
	lab.Try = []string{
		"Press Run merge (the first recipe is in the editor), then in 4. Evaluate pick the split upright and press Evaluate, and likewise rotated, inverted and shifted, and test (the default split: their mean). Press another recipe's button (TIES, PCB, TSV-M, Iso-C) and do the same.",
		"Change lambda: with a recipe in the editor, move the lambda slider in Live curve, or press Sweep to draw accuracy against λ on the picked split; the table's λ is the best on the validation splits (val-upright, ...), not on the test.",
		"Try dare_ties or iso_cts with the same models: pick it in 2. Method (the models and the base stay), Run merge and Evaluate.",
		"Press Measure live: the table above is recomputed in this tab, next to the figures measured when the lab was built.",
	}
	lab.Expect = []string{
		fmt.Sprintf("The fine-tunes reach %s on average, each on its own task; the base, pre-trained on all four views at once, %s.", pct(ceilRow.Average), pct(baseRow.Average)),
		fmt.Sprintf("The merges land between them: task arithmetic %s, TIES %s, PCB %s, TSV-M %s, Iso-C %s (the default split's accuracy is the mean of the four tasks').",
			pct(rows["Task arithmetic"].Average), pct(rows["TIES"].Average), pct(rows["PCB"].Average), pct(rows["TSV-M"].Average), pct(rows["Iso-C"].Average)),
		"On ViT-B/32 and eight tasks the papers report task arithmetic 68-70%, TIES 72-74%, TSV-M and Iso-C 83-86%; a 34K-weight MLP leaves far less room between its tasks.",
	}
	return lab, nil
}

type setSplit struct {
	s     *set
	name  string
	about string
}

// mtClaims states what the table shows, on the test splits (λ was chosen on the
// validation splits): the merges gain over the base but recover little of the way to
// the fine-tunes, and which method merges best.
func mtClaims(t *Table) []Claim {
	base, ceil, merges := t.Rows[0], t.Rows[1], t.Rows[2:]
	var names []string
	above, best, bestShare := true, merges[0], 0.0
	for _, r := range merges {
		names = append(names, fmt.Sprintf("%s %s", r.Name, pct(r.Average)))
		above = above && r.Average > base.Average
		if r.Average > best.Average {
			best = r
		}
		bestShare = max(bestShare, (r.Average-base.Average)/(ceil.Average-base.Average))
	}
	runnerUp := merges[0]
	if runnerUp.Name == best.Name {
		runnerUp = merges[1]
	}
	for _, r := range merges {
		if r.Name != best.Name && r.Average > runnerUp.Average {
			runnerUp = r
		}
	}
	return []Claim{
		{Claim: fmt.Sprintf("Every merge beats the base's average accuracy over the four tasks (%s): %s.", pct(base.Average), strings.Join(names, ", ")),
			Holds: above},
		{Claim: fmt.Sprintf("… but none closes more than a quarter of the gap to the fine-tunes, each on its own task (%s); the best closes %.0f%%: in a network this small the four task vectors interfere.",
			pct(ceil.Average), 100*bestShare), Holds: bestShare <= 0.25},
		{Claim: fmt.Sprintf("TSV-M, which keeps each layer's top singular directions of every task and orthogonalises them, has the best average: %s, ahead of %s (%s).",
			pct(best.Average), runnerUp.Name, pct(runnerUp.Average)), Holds: best.Name == "TSV-M"},
	}
}
