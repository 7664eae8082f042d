package labs

import (
	"fmt"
	"slices"
	"strings"

	"ladle/core/eval"
	"ladle/core/nn"
)

// Lab 1: model soups (Wortsman et al., 2022). One pre-trained network, fine-tuned ten
// times with different hyper-parameters; the uniform soup averages all of them, the
// greedy soup adds them one by one, best first, while the held-out validation
// accuracy does not drop. The claims are checked on the test split, which neither
// the training nor the greedy selection saw.

const (
	soupsTitle   = "Model soups: average fine-tuned digit classifiers"
	soupsSummary = "Ten fine-tunes of one pre-trained network, with different learning rates, weight decay, augmentation and seeds. Averaging their weights (a uniform or a greedy soup) beats the average ingredient, and the greedy soup matches or beats the best single model."
)

var soupsDef = def{name: "soups", title: soupsTitle, summary: soupsSummary, build: buildSoups}

const soupsPaper = "Model soups: averaging weights of multiple fine-tuned models improves accuracy without increasing inference time (Wortsman et al., ICML 2022), https://arxiv.org/abs/2203.05482"

// soupsSpec is a 64-256-10 MLP over the 8×8 digits (pixels 0..16 scaled to 0..1).
var soupsSpec = archSpec{input: []int{digitsFeatures}, scale: 1.0 / digitsMax,
	layers: []layerSpec{linear("fc1", 256), relu(), linear("fc2", digitsClasses)}}

// The soups lab splits the digits 30% test, 40% validation, 30% training: greedy
// soup decides on the validation split, and a larger one makes its decisions less
// noisy.
const (
	soupsSplitSeed = 1
	soupsTestFrac  = 0.3
	soupsValFrac   = 0.4
)

// finetune is one ingredient's recipe.
type finetune struct {
	lr, wd float64
	aug    string // none, shift, noise, shift+noise
	seed   uint64
}

var soupsFinetunes = []finetune{
	{0.02, 0, "none", 1}, {0.06, 0, "none", 2}, {0.1, 0, "none", 3}, {0.06, 1e-3, "none", 4},
	{0.06, 1e-4, "shift", 5}, {0.1, 1e-3, "shift", 6}, {0.06, 0, "noise", 7}, {0.02, 1e-3, "noise", 8},
	{0.1, 5e-4, "shift+noise", 9}, {0.04, 1e-4, "none", 10},
}

func (f finetune) about() string {
	aug := map[string]string{
		"none":        "no augmentation",
		"shift":       "30% of samples shifted by up to one pixel",
		"noise":       "Gaussian pixel noise (σ = 2 of 16)",
		"shift+noise": "30% shifted by up to one pixel, plus Gaussian noise (σ = 1.5 of 16)",
	}[f.aug]
	return fmt.Sprintf("fine-tuned from pre.safetensors for 5 epochs: SGD lr %g (constant), momentum 0.9, weight decay %g, %s, seed %d", f.lr, f.wd, aug, f.seed)
}

func (f finetune) augment() func(g *rng, px []float32) {
	maybeShift := func(g *rng, px []float32) {
		if g.float64() < 0.3 {
			shift(px, g.intn(3)-1, g.intn(3)-1)
		}
	}
	switch f.aug {
	case "shift":
		return maybeShift
	case "noise":
		return func(g *rng, px []float32) { addNoise(g, px, 2) }
	case "shift+noise":
		return func(g *rng, px []float32) {
			maybeShift(g, px)
			addNoise(g, px, 1.5)
		}
	}
	return nil
}

func buildSoups(b *builder) (*Lab, error) {
	sp := splitDigits(b.all, soupsSplitSeed, soupsTestFrac, soupsValFrac)
	pre, err := newNet(soupsSpec)
	if err != nil {
		return nil, err
	}
	pre.init(7)
	pre.train(sp.train, trainConfig{epochs: 20, batch: 32, lr: 0.05, momentum: 0.9, decay: true, seed: 7})
	preT := pre.tensors()

	models := make([]map[string]nn.Tensor, len(soupsFinetunes))
	parallel(len(soupsFinetunes), func(i int) {
		f := soupsFinetunes[i]
		n, _ := newNet(soupsSpec) // the spec is fixed and valid
		_ = n.load(preT)
		n.train(sp.train, trainConfig{epochs: 5, batch: 32, lr: f.lr, momentum: 0.9, wd: f.wd, seed: f.seed, augment: f.augment()})
		models[i] = n.tensors()
	})

	lab := &Lab{
		Title:   soupsTitle,
		Summary: soupsSummary,
		Paper:   soupsPaper,
		Data:    "data.safetensors",
		Numbers: map[string]float64{},
	}
	if err := b.writeModel("pre.safetensors", soupsSpec, preT, "pre-trained: 20 epochs of SGD (lr 0.05 falling linearly to 0, momentum 0.9) on the training split"); err != nil {
		return nil, err
	}
	lab.Models = append(lab.Models, ModelInfo{File: "pre.safetensors", About: "the pre-trained model every fine-tune starts from"})
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = fmt.Sprintf("finetune-%02d.safetensors", i+1)
		if err := b.writeModel(names[i], soupsSpec, m, soupsFinetunes[i].about()); err != nil {
			return nil, err
		}
		lab.Models = append(lab.Models, ModelInfo{File: names[i], About: soupsFinetunes[i].about()})
	}
	test, val := sp.test.quantized(), sp.val.quantized()
	if err := b.writeData(lab.Data, test.dataset(""), val.dataset("val")); err != nil {
		return nil, err
	}
	lab.Files = append(append([]string{"pre.safetensors"}, names...), lab.Data)
	lab.Splits = []SplitInfo{
		{Split: "", About: "test: held out from training and from the greedy selection; the lab's claims are measured here", Samples: test.Len()},
		{Split: "val", About: "validation: the greedy soup ranks and keeps ingredients by accuracy here", Samples: val.Len()},
	}

	// Recipes.
	var list strings.Builder
	for _, n := range names {
		fmt.Fprintf(&list, "  - model: %s\n", n)
	}
	uniform := "# Uniform soup: the plain average of all ten fine-tunes.\nmerge_method: linear\nmodels:\n" + list.String() + "dtype: float32\n"
	greedy := "# Greedy soup: rank the fine-tunes by validation accuracy, start with the best,\n" +
		"# and keep each next one if the average with it scores at least as well on validation.\n" +
		"merge_method: greedy_soup\nmodels:\n" + list.String() + "dtype: float32\nladle:\n  eval: {data: data.safetensors, split: val}\n"
	if err := b.write("uniform.yaml", []byte(uniform)); err != nil {
		return nil, err
	}
	if err := b.write("greedy.yaml", []byte(greedy)); err != nil {
		return nil, err
	}
	lab.Recipes = []Recipe{{Name: "Uniform soup", File: "uniform.yaml"}, {Name: "Greedy soup", File: "greedy.yaml"}}

	// Scores of the ingredients.
	testAcc := make([]float64, len(models))
	valAcc := make([]float64, len(models))
	mean := 0.0
	for i, m := range models {
		st, err := evalTensors(soupsSpec, m, test, nil)
		if err != nil {
			return nil, err
		}
		sv, err := evalTensors(soupsSpec, m, val, nil)
		if err != nil {
			return nil, err
		}
		testAcc[i], valAcc[i] = st.Accuracy, sv.Accuracy
		mean += st.Accuracy
		lab.Results.Ingredients = append(lab.Results.Ingredients, Score{Name: names[i], Accuracy: round4(st.Accuracy), Model: names[i]})
	}
	mean /= float64(len(models))
	spre, err := evalTensors(soupsSpec, preT, test, nil)
	if err != nil {
		return nil, err
	}
	// The best single model is the one a practitioner would pick: the best on
	// validation (the first of equals), as in the paper.
	best := 0
	for i, a := range valAcc {
		if a > valAcc[best] {
			best = i
		}
	}
	oracle := slices.Max(testAcc)

	// The soups, through the recipes, as the page runs them.
	uni, err := b.runRecipe("uniform.yaml")
	if err != nil {
		return nil, err
	}
	uniT, err := uni.tensors(soupsSpec, "uniform soup")
	if err != nil {
		return nil, err
	}
	su, err := evalTensors(soupsSpec, uniT, test, nil)
	if err != nil {
		return nil, err
	}
	gr, err := b.runRecipe("greedy.yaml")
	if err != nil {
		return nil, err
	}
	grT, err := gr.tensors(soupsSpec, "greedy soup")
	if err != nil {
		return nil, err
	}
	sg, err := evalTensors(soupsSpec, grT, test, nil)
	if err != nil {
		return nil, err
	}
	// The lab's own greedy selection, scored by this package's evaluator, must choose
	// what the recipe chose (package nn scored it there).
	mine, err := eval.GreedySoup(names, models, func(ts map[string]nn.Tensor) (float64, error) {
		s, err := evalTensors(soupsSpec, ts, val, nil)
		return s.Accuracy, err
	}, false)
	if err != nil {
		return nil, err
	}
	if gr.greedy == nil || !slices.Equal(gr.greedy.Ingredients, mine.Ingredients) {
		var got []string
		if gr.greedy != nil {
			got = gr.greedy.Ingredients
		}
		return nil, fmt.Errorf("greedy.yaml chose %v, but the lab's evaluator chooses %v", got, mine.Ingredients)
	}

	lab.Results.Soups = []Score{
		{Name: "Uniform soup", Accuracy: round4(su.Accuracy), Recipe: "uniform.yaml"},
		{Name: "Greedy soup", Accuracy: round4(sg.Accuracy), Recipe: "greedy.yaml"},
	}
	lab.Numbers = map[string]float64{
		"pretrained_test_accuracy":        round4(spre.Accuracy),
		"mean_finetune_test_accuracy":     round4(mean),
		"best_single_val_accuracy":        round4(valAcc[best]),
		"best_single_test_accuracy":       round4(testAcc[best]),
		"best_single_index":               float64(best + 1),
		"oracle_best_test_accuracy":       round4(oracle),
		"uniform_soup_test_accuracy":      round4(su.Accuracy),
		"greedy_soup_test_accuracy":       round4(sg.Accuracy),
		"greedy_soup_val_accuracy":        round4(mine.Accuracy),
		"greedy_soup_ingredients":         float64(len(mine.Ingredients)),
		"uniform_minus_mean_points":       round4(100 * (su.Accuracy - mean)),
		"greedy_minus_best_single_points": round4(100 * (sg.Accuracy - testAcc[best])),
		"test_samples":                    float64(test.Len()),
		"val_samples":                     float64(val.Len()),
	}
	lab.Claims = []Claim{
		{Claim: fmt.Sprintf("The greedy soup (%d ingredients) is at least as accurate on the test split as the best single fine-tune (picked on validation): %s vs %s.",
			len(mine.Ingredients), pct2(sg.Accuracy), pct2(testAcc[best])), Holds: sg.Accuracy >= testAcc[best]},
		{Claim: fmt.Sprintf("The uniform soup is at least as accurate on the test split as the fine-tunes on average: %s vs %s.",
			pct2(su.Accuracy), pct2(mean)), Holds: su.Accuracy >= mean},
	}
	lab.Try = []string{
		"Run the uniform soup: press Run merge (uniform.yaml is in the editor). The lab's dataset is loaded, so the result is evaluated at once; press Evaluate to score the ingredients beside it.",
		"Press Greedy soup, then Run merge: it ranks the fine-tunes on the split val and keeps only those that help; the page shows the ranking and every step, kept or rejected, with the soup's accuracy.",
		"Make your own soup: untick ingredients in 1. Models, or give one the weight 2 in its weight field (parameters: {weight: 2} in the editor); Run merge, and the result's row is measured again.",
		"Try WiSE-FT: type merge_method: wise_ft into the editor with the models pre.safetensors then one fine-tune (or pick wise_ft in 2. Method with only those two ticked); in Live curve press Sweep to draw accuracy against alpha, and click a point to merge it.",
		"Press Measure live: the table above is recomputed in this tab, next to the figures measured when the lab was built.",
	}
	lab.Expect = []string{
		fmt.Sprintf("The fine-tunes score %s on average on the test split (the best on validation: %s).", pct(mean), pct(testAcc[best])),
		fmt.Sprintf("The uniform soup scores %s, the greedy soup %s with %d of the 10 fine-tunes.", pct(su.Accuracy), pct(sg.Accuracy), len(mine.Ingredients)),
		"A soup costs no more than one model to run: it is one set of weights.",
	}
	return lab, nil
}
