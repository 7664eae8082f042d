package labs

import (
	"fmt"

	"ladle/core/nn"
)

// Lab 2: task arithmetic (Ilharco et al., 2023). A base network with a shared
// 10-way head is fine-tuned on two tasks, "low" (tell 0-4 apart) and "high" (tell
// 5-9 apart). As in the paper, each task trains with its own head (here: the head's
// outputs of its classes) kept frozen, so that a task vector τ = θ_task − θ_base lives
// in the shared layers. θ_base + λ(τ_low + τ_high) is a multi-task model;
// θ_base − λ·τ_low forgets the low digits while the high digits, the control task,
// hold. λ is picked on the validation split, as in the paper: for addition the best
// mean task accuracy, for negation the lowest target accuracy that keeps the control
// task at 95% of the base's accuracy or more.

const (
	taskArithmeticTitle   = "Task arithmetic: add and negate task vectors"
	taskArithmeticSummary = "A base digit classifier fine-tuned on two tasks (tell 0-4 apart, tell 5-9 apart). Adding both task vectors to the base gives one model good at both tasks; subtracting one makes the model forget that task while the other task holds."
)

var taskArithmeticDef = def{name: "task-arithmetic", title: taskArithmeticTitle, summary: taskArithmeticSummary, build: buildTaskArithmetic}

const taskArithmeticPaper = "Editing models with task arithmetic (Ilharco et al., ICLR 2023), https://arxiv.org/abs/2212.04089"

var taskSpec = archSpec{input: []int{digitsFeatures}, scale: 1.0 / digitsMax,
	layers: []layerSpec{linear("fc1", 64), relu(), linear("fc2", digitsClasses)}}

var (
	taskLow  = []int{0, 1, 2, 3, 4}
	taskHigh = []int{5, 6, 7, 8, 9}
)

const (
	labSplitSeed = 1
	labTestFrac  = 0.35
	labValFrac   = 0.2
)

// λ grids: addition as the paper (0.05 … 1), negation up to 3 (a tiny network's task
// vectors are short).
func addGrid() []float64 { return grid(0.05, 1, 0.05) }
func negGrid() []float64 { return grid(0.25, 3, 0.25) }

func grid(lo, hi, step float64) []float64 {
	var out []float64
	for i := 0; ; i++ {
		v := round4(lo + float64(float64(i)*step)) // product rounded: no FMA
		if v > hi+1e-9 {
			return out
		}
		out = append(out, v)
	}
}

// taskRecipe is a task_arithmetic recipe over the base with the given task vectors.
func taskRecipe(comment string, models []string, weights []float64, lambda float64) string {
	s := comment + "merge_method: task_arithmetic\nbase_model: base.safetensors\nmodels:\n"
	for i, m := range models {
		s += fmt.Sprintf("  - model: %s\n    parameters: {weight: %g}\n", m, weights[i])
	}
	return s + fmt.Sprintf("parameters: {lambda: %g}\ndtype: float32\n", lambda)
}

func buildTaskArithmetic(b *builder) (*Lab, error) {
	sp := splitDigits(b.all, labSplitSeed, labTestFrac, labValFrac)
	base, err := newNet(taskSpec)
	if err != nil {
		return nil, err
	}
	base.init(3)
	base.train(sp.train, trainConfig{epochs: 3, batch: 32, lr: 0.02, momentum: 0.9, seed: 3})
	baseT := base.tensors()
	tasks := [][]int{taskLow, taskHigh}
	tuned := make([]map[string]nn.Tensor, 2)
	parallel(2, func(i int) {
		n, _ := newNet(taskSpec)
		_ = n.load(baseT)
		n.train(sp.train.classes(tasks[i]...), trainConfig{epochs: 10, batch: 32, lr: 0.02, momentum: 0.9, decay: true,
			seed: uint64(11 + i), classes: tasks[i], frozen: []string{"fc2.weight", "fc2.bias"}})
		tuned[i] = n.tensors()
	})

	lab := &Lab{Title: taskArithmeticTitle, Summary: taskArithmeticSummary, Paper: taskArithmeticPaper, Data: "data.safetensors"}
	files := []string{"base.safetensors", "task-low.safetensors", "task-high.safetensors"}
	abouts := []string{
		"base: 3 epochs of SGD (lr 0.02, momentum 0.9) on all ten digits of the training split; a weak but general start",
		"task low: the base fine-tuned for 10 epochs on the digits 0-4 only, the loss over the outputs 0-4, the head (fc2) frozen",
		"task high: the base fine-tuned for 10 epochs on the digits 5-9 only, the loss over the outputs 5-9, the head (fc2) frozen",
	}
	for i, ts := range []map[string]nn.Tensor{baseT, tuned[0], tuned[1]} {
		if err := b.writeModel(files[i], taskSpec, ts, abouts[i]); err != nil {
			return nil, err
		}
		lab.Models = append(lab.Models, ModelInfo{File: files[i], About: abouts[i]})
	}
	test, val := sp.test.quantized(), sp.val.quantized()
	testLow, testHigh := test.classes(taskLow...), test.classes(taskHigh...)
	valLow, valHigh := val.classes(taskLow...), val.classes(taskHigh...)
	if err := b.writeData(lab.Data, test.dataset(""), val.dataset("val"), testLow.dataset("low"), testHigh.dataset("high")); err != nil {
		return nil, err
	}
	lab.Files = append(files, lab.Data)
	lab.Splits = []SplitInfo{
		{Split: "", About: "test, all ten digits", Samples: test.Len()},
		{Split: "val", About: "validation, all ten digits: λ is chosen here", Samples: val.Len()},
		{Split: "low", About: "test, digits 0-4 (the task low)", Samples: testLow.Len()},
		{Split: "high", About: "test, digits 5-9 (the task high)", Samples: testHigh.Len()},
	}

	// A task's accuracy: its head (the outputs of its classes) on its digits.
	taskAcc := func(ts map[string]nn.Tensor, low, high *set) (float64, float64, error) {
		a, err := evalTensors(taskSpec, ts, low, taskLow)
		if err != nil {
			return 0, 0, err
		}
		c, err := evalTensors(taskSpec, ts, high, taskHigh)
		return a.Accuracy, c.Accuracy, err
	}
	merge := func(text string) (map[string]nn.Tensor, error) {
		r, err := b.runRecipeText("task arithmetic", []byte(text))
		if err != nil {
			return nil, err
		}
		return r.tensors(taskSpec, "task arithmetic")
	}
	_, baseValHigh, err := taskAcc(baseT, valLow, valHigh)
	if err != nil {
		return nil, err
	}
	// Addition: the λ with the best mean task accuracy on validation.
	addLambda, bestAdd := 0.0, -1.0
	for _, l := range addGrid() {
		ts, err := merge(taskRecipe("", files[1:], []float64{1, 1}, l))
		if err != nil {
			return nil, err
		}
		lo, hi, err := taskAcc(ts, valLow, valHigh)
		if err != nil {
			return nil, err
		}
		if m := (lo + hi) / 2; m > bestAdd {
			addLambda, bestAdd = l, m
		}
	}
	// Negation: the lowest target accuracy with the control at ≥ 95% of the base's.
	negLambda, bestNeg := 0.0, 2.0
	for _, l := range negGrid() {
		ts, err := merge(taskRecipe("", files[1:2], []float64{-1}, l))
		if err != nil {
			return nil, err
		}
		lo, hi, err := taskAcc(ts, valLow, valHigh)
		if err != nil {
			return nil, err
		}
		if hi >= 0.95*baseValHigh && lo < bestNeg {
			negLambda, bestNeg = l, lo
		}
	}
	if negLambda == 0 {
		return nil, fmt.Errorf("no λ on the grid keeps the control task at 95%% of the base's accuracy")
	}

	addText := taskRecipe("# Task addition: base + λ·(τ_low + τ_high), one model for both tasks.\n# λ was chosen on the validation split (best mean task accuracy).\n",
		files[1:], []float64{1, 1}, addLambda)
	negText := taskRecipe("# Task negation: base − λ·τ_low forgets the digits 0-4; the digits 5-9 (the control task) hold.\n# λ was chosen on the validation split (lowest 0-4 accuracy keeping 5-9 at ≥ 95% of the base's).\n",
		files[1:2], []float64{-1}, negLambda)
	if err := b.write("add.yaml", []byte(addText)); err != nil {
		return nil, err
	}
	if err := b.write("negate.yaml", []byte(negText)); err != nil {
		return nil, err
	}
	lab.Recipes = []Recipe{{Name: "Add both task vectors", File: "add.yaml"}, {Name: "Negate the task low", File: "negate.yaml"}}
	add, err := b.runRecipe("add.yaml")
	if err != nil {
		return nil, err
	}
	addT, err := add.tensors(taskSpec, "add.yaml")
	if err != nil {
		return nil, err
	}
	neg, err := b.runRecipe("negate.yaml")
	if err != nil {
		return nil, err
	}
	negT, err := neg.tensors(taskSpec, "negate.yaml")
	if err != nil {
		return nil, err
	}

	// Test numbers: task heads on each task's digits, and plain 10-way accuracy on
	// the splits the page evaluates.
	type row struct {
		name      string
		ts        map[string]nn.Tensor
		low, high float64
		all       float64
	}
	rows := []*row{{name: "base.safetensors", ts: baseT}, {name: "task-low.safetensors", ts: tuned[0]},
		{name: "task-high.safetensors", ts: tuned[1]}, {name: "add.yaml", ts: addT}, {name: "negate.yaml", ts: negT}}
	for _, r := range rows {
		if r.low, r.high, err = taskAcc(r.ts, testLow, testHigh); err != nil {
			return nil, err
		}
		s, err := evalTensors(taskSpec, r.ts, test, nil)
		if err != nil {
			return nil, err
		}
		r.all = s.Accuracy
	}
	for _, r := range rows[:3] {
		lab.Results.Ingredients = append(lab.Results.Ingredients,
			Score{Name: r.name, Accuracy: round4(r.all), Model: r.name},
			Score{Name: r.name + " on 0-4 (task head)", Accuracy: round4(r.low), Split: "low", Model: r.name, Head: taskHeadLow},
			Score{Name: r.name + " on 5-9 (task head)", Accuracy: round4(r.high), Split: "high", Model: r.name, Head: taskHeadHigh})
	}
	lab.Results.Soups = []Score{
		{Name: "Add both task vectors", Accuracy: round4(rows[3].all), Recipe: "add.yaml"},
		{Name: "Add both task vectors on 0-4 (task head)", Accuracy: round4(rows[3].low), Split: "low", Recipe: "add.yaml", Head: taskHeadLow},
		{Name: "Add both task vectors on 5-9 (task head)", Accuracy: round4(rows[3].high), Split: "high", Recipe: "add.yaml", Head: taskHeadHigh},
		{Name: "Negate the task low", Accuracy: round4(rows[4].all), Recipe: "negate.yaml"},
		{Name: "Negate the task low on 0-4 (task head)", Accuracy: round4(rows[4].low), Split: "low", Recipe: "negate.yaml", Head: taskHeadLow},
		{Name: "Negate the task low on 5-9 (task head)", Accuracy: round4(rows[4].high), Split: "high", Recipe: "negate.yaml", Head: taskHeadHigh},
	}
	bs, ad, ng := rows[0], rows[3], rows[4]
	targetDrop, controlDrop := 100*(bs.low-ng.low), 100*(bs.high-ng.high)
	lab.Numbers = map[string]float64{
		"lambda_add":                 addLambda,
		"lambda_negate":              negLambda,
		"base_low_accuracy":          round4(bs.low),
		"base_high_accuracy":         round4(bs.high),
		"task_low_low_accuracy":      round4(rows[1].low),
		"task_high_high_accuracy":    round4(rows[2].high),
		"add_low_accuracy":           round4(ad.low),
		"add_high_accuracy":          round4(ad.high),
		"negate_low_accuracy":        round4(ng.low),
		"negate_high_accuracy":       round4(ng.high),
		"negate_target_drop_points":  round4(targetDrop),
		"negate_control_drop_points": round4(controlDrop),
		"base_10way_accuracy":        round4(bs.all),
		"add_10way_accuracy":         round4(ad.all),
	}
	for _, c := range []struct {
		key string
		ts  map[string]nn.Tensor
		d   *set
	}{{"negate_10way_low_accuracy", ng.ts, testLow}, {"negate_10way_high_accuracy", ng.ts, testHigh},
		{"base_10way_low_accuracy", bs.ts, testLow}, {"base_10way_high_accuracy", bs.ts, testHigh}} {
		s, err := evalTensors(taskSpec, c.ts, c.d, nil)
		if err != nil {
			return nil, err
		}
		lab.Numbers[c.key] = round4(s.Accuracy)
	}
	lab.Claims = []Claim{
		{Claim: fmt.Sprintf("Negating τ_low (λ = %g) lowers the accuracy on the digits 0-4 by at least 20 points: %s → %s (−%.1f).",
			negLambda, pct(bs.low), pct(ng.low), targetDrop), Holds: targetDrop >= 20},
		{Claim: fmt.Sprintf("… while the control task, the digits 5-9, drops by at most 5 points: %s → %s (%+.1f).",
			pct(bs.high), pct(ng.high), -controlDrop), Holds: controlDrop <= 5},
		{Claim: fmt.Sprintf("Adding both task vectors (λ = %g) beats the base on both tasks: 0-4 %s vs %s, 5-9 %s vs %s.",
			addLambda, pct(ad.low), pct(bs.low), pct(ad.high), pct(bs.high)), Holds: ad.low > bs.low && ad.high > bs.high},
	}
	lab.Try = []string{
		"Press Run merge (add.yaml is in the editor); in 4. Evaluate pick the split low and press Evaluate, then the split high: one model now does both tasks (the page scores all ten outputs; the lab's task-head figures let only the task's five compete).",
		"Press Negate the task low and Run merge; evaluate on low (the forgotten digits 0-4) and on high (the control task).",
		"Change lambda with the slider in Live curve (it rewrites the recipe), or press Sweep to draw accuracy against lambda on the picked split: small values forget little, large ones start to hurt the control task too. Click a point to merge it.",
		"Try ties or dare_linear: pick it in 2. Method (the models and the base stay), Run merge and Evaluate; Sweep draws accuracy against its density.",
		"Press Measure live: the table above is recomputed in this tab (the ten-way figures; a task head is not something ladle eval measures), next to the figures measured when the lab was built.",
	}
	lab.Expect = []string{
		fmt.Sprintf("Task heads on the test split: the base scores %s on 0-4 and %s on 5-9; the sum of the task vectors %s and %s.", pct(bs.low), pct(bs.high), pct(ad.low), pct(ad.high)),
		fmt.Sprintf("After negation, 0-4 falls to %s while 5-9 stays at %s.", pct(ng.low), pct(ng.high)),
		"The page's accuracy uses the full 10-way head: there the negated model also loses the digits 0-4 (their outputs no longer win).",
	}
	return lab, nil
}

// The task-head figures let only one task's outputs compete; `ladle eval` and the page
// score all ten, so the page does not measure these live.
const (
	taskHeadLow  = "a task head: only the outputs 0-4 compete"
	taskHeadHigh = "a task head: only the outputs 5-9 compete"
)
