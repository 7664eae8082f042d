package merge

import (
	"math"

	"ladle/core/tensor"
)

const pcbPaper = "Parameter Competition Balancing for Model Merging (PCB-merging, Du et al., NeurIPS 2024; code github.com/duguodong7/pcb-merging), https://arxiv.org/abs/2410.02396"

var pcbMethod = &Method{
	Name: "pcb",
	Summary: "PCB-merging: weighs every task-vector entry by its competition within its task (magnitude rank, exp(n·N²)) and across tasks (tanh of its agreement with the sum), " +
		"drops all but the top `density` share of those weights, and averages the clamped task vectors with them: θ = θ0 + λ Σ wᵢ T̃ᵢ⊙sᵢ / Σ sᵢ.",
	Paper: pcbPaper,
	Params: []Param{
		{Name: "weight", Type: Float, Default: 1.0, PerModel: true,
			Doc: "Per-task coefficient λᵢ of the code (its nevergrad search is not part of the method)."},
		{Name: "density", Type: Float, Default: 0.1, Min: fptr(0), Max: fptr(1), Sweep: "density: the share of each task's balancing weights kept",
			Doc: "pcb_ratio ρ in (0, 1]: share of each task's balancing weights kept; entries at or below the (1 − ρ) quantile get weight 0."},
		lambdaParam(),
	},
	NeedsBase: true, MinModels: 1,
	merge: mergePCB,
}

// pcbClampBounds are clamp(x, a, b)'s bounds for a row: s[⌊d·a⌋] and
// s[trunc(d·(1 − b) − 1)] of the row sorted ascending, the indices computed in float64
// as the code computes them. The order statistics come from selection (kth) over
// scratch, a copy of the row it reorders, not from a full sort.
func pcbClampBounds(scratch []float64, a, b float64) (lo, hi float64) {
	d := float64(len(scratch))
	i := int(math.Floor(d * a))
	k := int(float64(d*(1-b)) - 1) // int() truncates toward zero, as Python's int() does; the product rounded, as Python rounds it (no FMA)
	i = min(max(i, 0), len(scratch)-1)
	k = min(max(k, 0), len(scratch)-1)
	return kth(scratch, i), kth(scratch, k)
}

// kth returns the k-th smallest (from 0) of x, reordering x: quickselect with a
// median-of-three pivot and a three-way partition (so runs of equal values cost
// nothing). The value is the k-th order statistic whatever the pivots, so the result
// is deterministic. x holds no NaN.
func kth(x []float64, k int) float64 {
	lo, hi := 0, len(x)-1
	for lo < hi {
		a, b, c := x[lo], x[lo+(hi-lo)/2], x[hi]
		p := max(min(a, b), min(max(a, b), c)) // the median of the three
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch v := x[i]; {
			case v < p:
				x[lt], x[i] = v, x[lt]
				lt++
				i++
			case v > p:
				x[i], x[gt] = x[gt], v
				gt--
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt - 1
		case k > gt:
			lo = gt + 1
		default:
			return p
		}
	}
	return x[k]
}

// pcbNormalize maps x to (x − lo)/(hi − lo), 0 when hi = lo.
func pcbNormalize(x, lo, hi float64) float64 {
	if hi == lo {
		return 0
	}
	return (x - lo) / (hi - lo)
}

func mergePCB(j *Job, out []float32) error {
	rho := j.float("density")
	if !(rho > 0) {
		return j.errorf("density (pcb_ratio) must be in (0, 1], got %v", rho)
	}
	if err := checkFinite(j); err != nil {
		return err // clamping would otherwise turn an Inf into a finite value
	}
	if unchanged(j) {
		copy(out, j.Base)
		return nil
	}
	n, d := len(j.Models), len(out)
	ws, _ := j.weights()
	lam := j.float("lambda")
	workers := max(1, j.Workers)
	chunks := (d + chunkLen - 1) / chunkLen
	each := func(f func(lo, hi int)) {
		parallelFor(chunks, workers, func(c int) { f(c*chunkLen, min(d, (c+1)*chunkLen)) })
	}
	t := make([][]float64, n)
	for i := range t {
		t[i] = make([]float64, d)
	}
	sum := make([]float64, d)
	each(func(lo, hi int) {
		for e := lo; e < hi; e++ {
			b := float64(j.Base[e])
			s := 0.0
			for i, x := range j.Models {
				t[i][e] = float64(x[e]) - b
				s += t[i][e]
			}
			sum[e] = s
		}
	})
	// Per task: the clamped magnitudes A, their row bounds, then β and its kept share.
	scale := make([][]float64, n)
	clampLo, clampHi := make([]float64, n), make([]float64, n)
	parallelFor(n, workers, func(i int) {
		scratch := make([]float64, d)
		for e, v := range t[i] {
			scratch[e] = math.Abs(v)
		}
		lo, hi := pcbClampBounds(scratch, 1e-4, 1e-4)
		clampLo[i], clampHi[i] = lo, hi
		// N(A): A's min and max are the clamp bounds (A's values lie between them and
		// reach both, as elements of the row).
		beta := make([]float64, d)
		for e, v := range t[i] {
			a := min(max(math.Abs(v), lo), hi)
			na := pcbNormalize(a, lo, hi)
			beta[e] = tensor.Exp(float64(float64(n)*float64(na*na))) * detTanh(float64(v*sum[e]))
		}
		copy(scratch, beta)
		blo, bhi := pcbClampBounds(scratch, 1-rho, 0)
		for e, v := range beta {
			beta[e] = pcbNormalize(min(max(v, blo), bhi), blo, bhi)
		}
		scale[i] = beta
	})
	each(func(lo, hi int) {
		for e := lo; e < hi; e++ {
			num, den := 0.0, 0.0
			for i := range n {
				v := t[i][e]
				a := min(max(math.Abs(v), clampLo[i]), clampHi[i])
				switch {
				case v < 0:
					a = -a
				case v == 0:
					a = 0
				}
				num += float64(float64(ws[i]*a) * scale[i][e])
				den += scale[i][e]
			}
			out[e] = addScaled(j.Base[e], lam, num/max(den, 1e-12))
		}
	})
	return nil
}
