package merge

import "math"

var fisherMethod = &Method{
	Name:    "fisher",
	Summary: "Fisher-weighted averaging: each parameter is averaged with weights λᵢ·Fᵢ, the diagonal Fisher information of each model (a companion checkpoint per model): θ = Σ λᵢFᵢθᵢ / Σ λᵢFᵢ.",
	Paper:   "Merging Models with Fisher-Weighted Averaging (Matena and Raffel, 2022), https://arxiv.org/abs/2111.09832",
	Params: []Param{
		{Name: "weight", Type: Float, Default: 1.0, Min: fptr(0), PerModel: true,
			Doc: "Model weight λᵢ, multiplied by its Fisher values; at least one must be positive."},
		{Name: "fisher", Type: String, Required: true, PerModel: true, Companion: true,
			Doc: "Path (or dropped file name) of the model's diagonal Fisher checkpoint (make one with `ladle fisher`): same tensor names and shapes as the model. The executor loads it and passes it in Job.Companions[\"fisher\"]."},
	},
	MinModels: 1,
	merge:     mergeFisher,
}

// fisherFloor keeps a parameter with (numerically) zero Fisher in every model from
// dividing 0 by 0: such a parameter gets the λ-weighted plain average.
const fisherFloor = 1e-6

func mergeFisher(j *Job, out []float32) error {
	nm := len(j.Models)
	fisher := j.Companions["fisher"]
	if len(fisher) != nm {
		return j.errorf("needs one Fisher tensor per model (%d models, %d Fisher tensors); give each model a `fisher:` checkpoint", nm, len(fisher))
	}
	for i, f := range fisher {
		if len(f) != len(out) {
			return j.errorf("the Fisher values of %s have %d elements, expected %d; the Fisher checkpoint does not match the model", j.modelName(i), len(f), len(out))
		}
		for e, v := range f {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return j.errorf("the Fisher values of %s hold %v at element %d; recompute the Fisher checkpoint", j.modelName(i), v, e)
			}
		}
	}
	ws, sum := j.weights()
	if !(sum > 0) {
		return j.errorf("the model weights sum to %v (%s); Fisher averaging needs at least one positive weight", sum, j.weightList(ws))
	}
	return j.run(out, 0, func(s *scratch, lo, hi int) {
		num, den := s.float64s(0, hi-lo), s.float64s(1, hi-lo)
		clear(num)
		clear(den)
		for i, x := range j.Models {
			w, f := ws[i], fisher[i][lo:hi]
			for c, v := range x[lo:hi] {
				lf := float64(w * max(float64(f[c]), fisherFloor))
				num[c] += float64(lf * float64(v))
				den[c] += lf
			}
		}
		for c := range num {
			out[lo+c] = float32(num[c] / den[c])
		}
	})
}
