package merge

const soupsPaper = "Model soups: averaging weights of multiple fine-tuned models improves accuracy without increasing inference time (Wortsman et al., 2022), https://arxiv.org/abs/2203.05482"

var linearMethod = &Method{
	Name:    "linear",
	Summary: "Weighted average of the models: uniform and weighted model soups (WiSE-FT is linear of two models). θ = Σ wᵢθᵢ / Σ wᵢ.",
	Paper:   soupsPaper,
	Params: []Param{
		weightParam(),
		{Name: "normalize", Type: Bool, Default: true,
			Doc: "Divide by the sum of the weights (θ = Σ wᵢθᵢ / Σ wᵢ); a weight sum of 0 is then an error. false gives Σ wᵢθᵢ."},
	},
	MinModels: 1,
	merge:     mergeLinear,
}

// mergeLinear accumulates Σ wᵢθᵢ per element in float64, in recipe order, and rounds
// once: a soup of identical models is exactly that model, and exact zeros shared by
// every input stay zero.
func mergeLinear(j *Job, out []float32) error {
	ws, sum := j.weights()
	normalize := j.boolean("normalize")
	if normalize && sum == 0 {
		return j.errorf("the weights sum to 0 (%s), so the weighted average is undefined; change the weights or set normalize: false", j.weightList(ws))
	}
	return j.run(out, 0, func(s *scratch, lo, hi int) {
		acc := s.float64s(0, hi-lo)
		weightedSum(acc, j.Models, ws, lo, hi)
		o := out[lo:hi]
		if normalize {
			for c, a := range acc {
				o[c] = float32(a / sum)
			}
		} else {
			for c, a := range acc {
				o[c] = float32(a)
			}
		}
	})
}

// weightedSum sets acc[c] = Σᵢ ws[i]·xs[i][lo+c], models in order, starting from the
// first product (so a lone zero keeps its sign). The products are converted explicitly
// so that no CPU may fuse them into the additions.
func weightedSum(acc []float64, xs [][]float32, ws []float64, lo, hi int) {
	x0, w0 := xs[0][lo:hi], ws[0]
	for c, v := range x0 {
		acc[c] = float64(w0 * float64(v))
	}
	for i := 1; i < len(xs); i++ {
		x, w := xs[i][lo:hi], ws[i]
		for c, v := range x {
			acc[c] += float64(w * float64(v))
		}
	}
}

var wiseFTMethod = &Method{
	Name:    "wise_ft",
	Summary: "Weight-space ensemble of a zero-shot and a fine-tuned model: θ = (1 − α)·θ_zeroshot + α·θ_finetuned. A list of alphas gives one output per alpha.",
	Paper:   "Robust fine-tuning of zero-shot models (WiSE-FT, Wortsman et al., 2022), https://arxiv.org/abs/2109.01903",
	Params: []Param{
		{Name: "alpha", Type: Float, Default: 0.5, Min: fptr(0), Max: fptr(1), Multi: true,
			Doc: "Mixing coefficient α: 0 is the zero-shot model, 1 the fine-tuned one. A list (e.g. [0.25, 0.5, 0.75]) produces one output per value."},
	},
	MinModels: 2,
	MaxModels: 2,
	Roles:     []string{"zeroshot", "finetuned"},
	merge:     mergeWiseFT,
}

func mergeWiseFT(j *Job, out []float32) error {
	a := j.float("alpha")
	z, f := j.Models[0], j.Models[1]
	return j.run(out, 0, func(_ *scratch, lo, hi int) {
		lerp(out[lo:hi], z[lo:hi], f[lo:hi], a)
	})
}

// lerp writes (1−t)·a + t·b, in float64, rounded once; t = 0 gives a and t = 1 gives
// b exactly (for finite inputs).
func lerp(out, a, b []float32, t float64) {
	s := 1 - t
	b = b[:len(a)]
	out = out[:len(a)]
	for c := range a {
		out[c] = float32(float64(s*float64(a[c])) + float64(t*float64(b[c])))
	}
}
