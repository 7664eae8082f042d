package merge

import (
	"math"
	"strconv"

	"ladle/core/tensor"
)

var modelStockMethod = &Method{
	Name:    "model_stock",
	Summary: "Model Stock: interpolates between the average of the fine-tuned models and the base with a ratio t set by the angle between their task vectors: θ = t·mean(θᵢ) + (1 − t)·θ0.",
	Paper:   "Model Stock: All we need is just a few fine-tuned models (Jang et al., 2024), https://arxiv.org/abs/2403.19522",
	Params: []Param{
		{Name: "filter_wise", Type: Bool, Default: false,
			Doc: "Compute the angle and t per row (output filter: the first dimension) instead of per tensor."},
	},
	NeedsBase: true,
	MinModels: 2,
	merge:     mergeModelStock,
}

// stockRatio computes t from the Gram matrix g of the N task vectors:
// cos = mean over pairs i<j of clamp(gᵢⱼ / max(|oᵢ||oⱼ|, 1e-6), −1, 1),
// t = N·cos / (1 + (N − 1)·cos). ok is false when the denominator is 0 (|den| < 1e-12).
func stockRatio(g []float64, n int) (t, cos float64, ok bool) {
	sum, pairs := 0.0, 0
	for i := range n {
		for k := i + 1; k < n; k++ {
			nn := math.Sqrt(g[i*n+i] * g[k*n+k]) // one rounding: antiparallel vectors give exactly −1
			sum += max(-1, min(1, g[i*n+k]/max(nn, 1e-6)))
			pairs++
		}
	}
	cos = sum / float64(pairs)
	nf := float64(n)
	den := 1 + float64((nf-1)*cos)
	// Zero up to rounding: t would be ±1e12 or more, an extrapolation far outside any
	// meaningful merge, so treat it as the division by zero it really is.
	if math.Abs(den) < 1e-12 {
		return 0, cos, false
	}
	return nf * cos / den, cos, true
}

func mergeModelStock(j *Job, out []float32) error {
	n := len(out)
	nm := len(j.Models)
	rows, rowLen := int64(1), int64(n)
	if j.boolean("filter_wise") && j.Shape != nil {
		rows, rowLen = tensor.Rows(j.Shape, int64(n))
	}
	if n == 0 || rows == 0 {
		return nil
	}
	g := make([]float64, nm*nm)
	buf := make([]float32, nm*tensor.Block)
	ts := make([]float64, rows)
	for r := range rows {
		lo, hi := int(r*rowLen), int((r+1)*rowLen)
		tensor.GramDiff(j.Models, j.Base, lo, hi, g, buf)
		t, cos, ok := stockRatio(g, nm)
		if !ok {
			where := ""
			if rows > 1 {
				where = " in row " + strconv.FormatInt(r, 10)
			}
			return j.errorf("the task vectors' mean cosine is %v%s, so t = N·cos/(1 + (N−1)·cos) divides by zero; these models cannot be model-stocked (use another method, or drop a model)", cos, where)
		}
		ts[r] = t
	}
	base := j.Base
	nf := float64(nm)
	return j.run(out, 0, func(s *scratch, lo, hi int) {
		acc := s.float64s(0, hi-lo)
		clear(acc)
		for _, x := range j.Models {
			for c, v := range x[lo:hi] {
				acc[c] += float64(v)
			}
		}
		b := base[lo:hi]
		for c := 0; c < len(acc); {
			r := int64(lo+c) / rowLen
			end := min(len(acc), int((r+1)*rowLen)-lo)
			t := ts[r]
			for ; c < end; c++ {
				mean := acc[c] / nf
				out[lo+c] = float32(float64(t*mean) + float64((1-t)*float64(b[c])))
			}
		}
	})
}
