package merge

var greedySoupMethod = &Method{
	Name: "greedy_soup",
	Summary: "Greedy soup: models sorted by held-out accuracy, best first; each next model joins the soup when the uniform average with it scores at least as well " +
		"(needs an evaluator: ladle: {eval: {arch, data, split}}). The output is the uniform average of the chosen models.",
	Paper: soupsPaper,
	Params: []Param{
		{Name: "strict", Type: Bool, Default: false,
			Doc: "Keep a model only when the candidate soup's accuracy is strictly higher (the model-soups code's rule); false keeps it also on a tie (the paper's ≥)."},
	},
	MinModels: 1,
	NeedsEval: true,
	Select:    &Selection{Kind: SelectGreedy, StrictParam: "strict", MetadataKey: "ladle.greedy_soup"},
	merge:     mergeUniform,
}

// mergeUniform is greedy_soup's per-tensor step: the uniform average of the models
// it is given, exactly as linear computes it with equal weights (Σ θᵢ in order, in
// float64, divided by the count and rounded once). The executor runs the greedy
// selection first and passes only the chosen ingredients, in the order they joined
// the soup, so the output equals a linear merge of them.
func mergeUniform(j *Job, out []float32) error {
	ws := make([]float64, len(j.Models))
	for i := range ws {
		ws[i] = 1
	}
	n := float64(len(ws))
	return j.run(out, 0, func(s *scratch, lo, hi int) {
		acc := s.float64s(0, hi-lo)
		weightedSum(acc, j.Models, ws, lo, hi)
		o := out[lo:hi]
		for c, a := range acc {
			o[c] = float32(a / n)
		}
	})
}
