package eval

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"ladle/core/nn"
)

// GreedyStep is one decision of a greedy soup.
type GreedyStep struct {
	// Model is the model considered (its name as given to GreedySoup).
	Model string `json:"model"`
	// Accuracy is the held-out accuracy of the candidate soup: the uniform average of
	// the ingredients so far plus Model (for the first step, Model alone).
	Accuracy float64 `json:"accuracy"`
	// Kept says whether Model joined the soup.
	Kept bool `json:"kept"`
}

// GreedyResult is the outcome of GreedySoup.
type GreedyResult struct {
	// Ingredients are the models in the soup, in the order they joined it (best first).
	Ingredients []string `json:"ingredients"`
	// Chosen are the ingredients' indices into GreedySoup's inputs, in the same order.
	Chosen []int `json:"chosen"`
	// Steps lists every decision in the order they were made: the first is the best
	// model alone (always kept), then one per remaining model, best to worst.
	Steps []GreedyStep `json:"steps"`
	// Individual is each input model's own held-out accuracy, in input order.
	Individual []float64 `json:"individual"`
	// Soup is the final soup's tensors; Accuracy its held-out accuracy.
	Soup     map[string]nn.Tensor `json:"-"`
	Accuracy float64              `json:"accuracy"`
}

// GreedySoup cooks a greedy soup (Wortsman et al., 2022; METHODS.md): it scores every
// model, sorts them by score, best first (ties keep the input order), starts the soup
// with the best one, and then, for each next model, scores the candidate soup (the
// uniform average of the ingredients so far plus that model) and keeps the model
// when the candidate's score is ≥ the current soup's (> when strict, as the
// model-soups code does). One pass; nothing is revisited.
//
// score is the held-out accuracy of a model given as tensors (AccuracyScorer makes
// one); it is called once per input and once per candidate. A score that is NaN is
// an error.
//
// Averages are taken per element in float64, over the ingredients in the order they
// joined, and rounded to float32 once, so the soup's bytes equal a `linear` merge of
// the ingredients (listed in that order, equal weights). Tensors whose name ends in
// "num_batches_tracked" (batchnorm's step counter, an integer in the checkpoint) are
// not averaged: they are taken from the best model. Every model must hold the best
// model's tensors with the same shapes; tensors only some models hold are left out.
func GreedySoup(names []string, tensors []map[string]nn.Tensor, score func(map[string]nn.Tensor) (float64, error), strict bool) (*GreedyResult, error) {
	if len(tensors) == 0 {
		return nil, fmt.Errorf("greedy soup: no models")
	}
	if len(names) != len(tensors) {
		return nil, fmt.Errorf("greedy soup: %d names for %d models", len(names), len(tensors))
	}
	if score == nil {
		return nil, fmt.Errorf("greedy soup: no score function")
	}
	r := &GreedyResult{Individual: make([]float64, len(tensors))}
	for i, t := range tensors {
		a, err := score(t)
		if err != nil {
			return nil, fmt.Errorf("greedy soup: model %s: %w", names[i], err)
		}
		if math.IsNaN(a) {
			return nil, fmt.Errorf("greedy soup: model %s scores NaN", names[i])
		}
		r.Individual[i] = a
	}
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return r.Individual[order[a]] > r.Individual[order[b]] })
	best := order[0]
	soup, err := uniformSoup(tensors, []int{best}, names)
	if err != nil {
		return nil, err
	}
	r.Chosen = []int{best}
	r.Accuracy = r.Individual[best]
	r.Steps = []GreedyStep{{Model: names[best], Accuracy: r.Accuracy, Kept: true}}
	for _, k := range order[1:] {
		cand := append(append([]int(nil), r.Chosen...), k)
		mix, err := uniformSoup(tensors, cand, names)
		if err != nil {
			return nil, err
		}
		a, err := score(mix)
		if err != nil {
			return nil, fmt.Errorf("greedy soup: candidate with %s: %w", names[k], err)
		}
		if math.IsNaN(a) {
			return nil, fmt.Errorf("greedy soup: the candidate with %s scores NaN", names[k])
		}
		keep := a >= r.Accuracy
		if strict {
			keep = a > r.Accuracy
		}
		r.Steps = append(r.Steps, GreedyStep{Model: names[k], Accuracy: a, Kept: keep})
		if keep {
			r.Chosen, r.Accuracy, soup = cand, a, mix
		}
	}
	r.Soup = soup
	for _, i := range r.Chosen {
		r.Ingredients = append(r.Ingredients, names[i])
	}
	return r, nil
}

// uniformSoup averages models[idx...] per element in float64, in the order of idx,
// over the tensors of the first; counters (num_batches_tracked) come from the first.
func uniformSoup(models []map[string]nn.Tensor, idx []int, names []string) (map[string]nn.Tensor, error) {
	first := models[idx[0]]
	out := make(map[string]nn.Tensor, len(first))
	n := float64(len(idx))
	for name, t := range first {
		if strings.HasSuffix(name, "num_batches_tracked") {
			out[name] = nn.Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
			continue
		}
		acc := make([]float64, len(t.Data))
		for k, i := range idx {
			u, ok := models[i][name]
			if !ok {
				return nil, fmt.Errorf("greedy soup: model %s has no tensor %q, which %s has", names[i], name, names[idx[0]])
			}
			if !slices.Equal(u.Shape, t.Shape) || len(u.Data) != len(t.Data) {
				return nil, fmt.Errorf("greedy soup: tensor %q has shape %v in %s but %v in %s", name, u.Shape, names[i], t.Shape, names[idx[0]])
			}
			if k == 0 { // start from the first value, as linear does (a lone −0 stays −0)
				for j, v := range u.Data {
					acc[j] = float64(v)
				}
				continue
			}
			for j, v := range u.Data {
				acc[j] += float64(v)
			}
		}
		data := make([]float32, len(acc))
		for j, v := range acc {
			data[j] = float32(v / n)
		}
		out[name] = nn.Tensor{Shape: append([]int(nil), t.Shape...), Data: data}
	}
	return out, nil
}

// scorerModel is the model AccuracyScorer evaluates: exact mode, threads goroutines.
func scorerModel(arch *nn.Arch, ts map[string]nn.Tensor, threads int) (*nn.Model, error) {
	m, err := nn.NewModel(arch, ts)
	if err != nil {
		return nil, err
	}
	m.SetExact(true)
	m.SetThreads(threads)
	return m, nil
}

// AccuracyScorer returns a score function for GreedySoup: the accuracy on d of arch
// bound to the tensors, evaluated batch samples at a time (0: DefaultBatch) on up to
// threads goroutines (0: GOMAXPROCS). The model runs in exact mode: a greedy soup
// keeps or rejects an ingredient on a comparison of accuracies, so one sample whose
// class turned on a last-bit difference (the AVX kernels natively, Go's loops in the
// tab) could change which ingredients the merged file holds; exact mode's outputs are
// the same bits everywhere, so the page's soup is the command's.
func AccuracyScorer(arch *nn.Arch, d *Dataset, batch, threads int) func(map[string]nn.Tensor) (float64, error) {
	return func(ts map[string]nn.Tensor) (float64, error) {
		m, err := scorerModel(arch, ts, threads)
		if err != nil {
			return 0, err
		}
		r, err := Evaluate(m, d, batch)
		if err != nil {
			return 0, err
		}
		return r.Accuracy, nil
	}
}
