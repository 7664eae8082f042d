package merge

import (
	"cmp"
	"math"
	"slices"
)

var sceMethod = &Method{
	Name: "sce",
	Summary: "SCE (select, calculate, erase; FuseChat): keep the positions where the task vectors vary most across models, weight each model by its share of the mean squared task vector, " +
		"and average only the entries that agree with the elected sign: θ = θ0 + λ Σ ηᵢeᵢδᵢ / Σ ηᵢeᵢ.",
	Paper: "FuseChat: Knowledge Fusion of Chat Models (Wan et al., 2024; SCE as implemented in mergekit), https://arxiv.org/abs/2408.07990",
	Params: []Param{
		{Name: "weight", Type: Float, Default: 1.0, PerModel: true, Doc: "Accepted so mergekit recipes run unchanged; SCE computes its own per-tensor weights and ignores it."},
		{Name: "select_topk", Type: Float, Default: 1.0, Min: fptr(0), Max: fptr(1), Sweep: "select_topk: the fraction of the most varying positions kept",
			Doc: "Fraction of the positions with nonzero variance across the task vectors that are kept (largest variance first, ties by lower index); 1 keeps every position."},
		lambdaParam(), int8MaskParam(),
	},
	NeedsBase: true, MinModels: 1,
	merge: mergeSCE,
}

func mergeSCE(j *Job, out []float32) error {
	n, nm := len(out), len(j.Models)
	ds := make([][]float32, nm)
	for i, x := range j.Models {
		d := make([]float32, n)
		for e := range d {
			d[e] = x[e] - j.Base[e]
		}
		ds[i] = d
	}
	if k := j.float("select_topk"); k < 1 {
		variance := make([]float64, n)
		var nonzero []int
		for e := range n {
			mean := 0.0
			for _, d := range ds {
				mean += float64(d[e])
			}
			mean /= float64(nm)
			v := 0.0
			for _, d := range ds {
				x := float64(d[e]) - mean
				v += float64(x * x)
			}
			variance[e] = v / float64(nm)
			if variance[e] != 0 {
				nonzero = append(nonzero, e)
			}
		}
		keep := max(0, int(math.Floor(k*float64(len(nonzero)))))
		slices.SortStableFunc(nonzero, func(a, b int) int { return cmp.Compare(variance[b], variance[a]) })
		mask := make([]bool, n)
		for _, e := range nonzero[:keep] {
			mask[e] = true
		}
		for _, d := range ds {
			for e := range d {
				if !mask[e] {
					d[e] *= 0 // a NaN stays NaN
				}
			}
		}
	}
	// η: each model's mean squared task vector over their sum.
	eta := make([]float64, nm)
	total := 0.0
	for i, d := range ds {
		s := 0.0
		for _, x := range d {
			s += float64(float64(x) * float64(x))
		}
		eta[i] = s / float64(max(n, 1))
		total += eta[i]
	}
	for i := range eta {
		if total == 0 {
			eta[i] = 1 / float64(nm)
		} else {
			eta[i] /= total
		}
	}
	lam := j.float("lambda")
	return j.run(out, 0, func(_ *scratch, lo, hi int) {
		for e := lo; e < hi; e++ {
			sum := 0.0
			for _, d := range ds {
				sum += float64(d[e])
			}
			sign := 1.0
			if sum < 0 {
				sign = -1
			}
			num, den := 0.0, 0.0
			for i, d := range ds {
				x := float64(d[e])
				if (x > 0 && sign > 0) || (x < 0 && sign < 0) {
					num += float64(eta[i] * x)
					den += eta[i]
				}
			}
			out[e] = addScaled(j.Base[e], lam, num/max(den, 1e-6))
		}
	})
}
