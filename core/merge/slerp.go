package merge

import (
	"math"

	"ladle/core/tensor"
)

var slerpMethod = &Method{
	Name:    "slerp",
	Summary: "Spherical linear interpolation between the base model (t = 0) and one other model (t = 1), per tensor; nearly parallel tensors fall back to linear interpolation.",
	Paper:   "Animating rotation with quaternion curves (Shoemake, 1985), https://doi.org/10.1145/325165.325242; as used for model merging by mergekit, https://arxiv.org/abs/2403.13257",
	Params: []Param{
		{Name: "t", Type: Float, Required: true, Min: fptr(0), Max: fptr(1), Sweep: "t: 0 is the base model, 1 the other",
			Doc: "Interpolation position: 0 is the base model, 1 the other model; usually a gradient over layers."},
	},
	NeedsBase: true,
	MinModels: 1,
	MaxModels: 1,
	merge:     mergeSlerp,
}

const (
	slerpNormEps   = 1e-8
	slerpDotThresh = 0.9995
)

// slerpCoefficients returns (s0, s1, linear) for the flattened v0, v1 with the given
// Gram entries: the cosine of the normalised vectors (a norm ≤ 1e-8 is not divided
// by), a linear fallback when |cos| > 0.9995, else s0 = sin((1−t)Ω)/sin Ω and
// s1 = sin(tΩ)/sin Ω with Ω = acos(cos).
func slerpCoefficients(g00, g01, g11, t float64) (s0, s1 float64, linear bool) {
	n0, n1 := math.Sqrt(g00), math.Sqrt(g11)
	if n0 <= slerpNormEps {
		n0 = 1
	}
	if n1 <= slerpNormEps {
		n1 = 1
	}
	cos := g01 / (n0 * n1)
	if math.Abs(cos) > slerpDotThresh {
		return 1 - t, t, true
	}
	omega := tensor.Acos(cos)
	sinOmega := tensor.Sin(omega)
	return tensor.Sin((1-t)*omega) / sinOmega, tensor.Sin(t*omega) / sinOmega, false
}

func mergeSlerp(j *Job, out []float32) error {
	t := j.float("t")
	v0, v1 := j.Base, j.Models[0]
	if len(out) == 0 {
		return nil
	}
	var g [4]float64
	tensor.GramDiff([][]float32{v0, v1}, nil, 0, len(out), g[:], nil)
	s0, s1, linear := slerpCoefficients(g[0], g[1], g[3], t)
	if linear {
		return j.run(out, 0, func(_ *scratch, lo, hi int) { lerp(out[lo:hi], v0[lo:hi], v1[lo:hi], t) })
	}
	return j.run(out, 0, func(_ *scratch, lo, hi int) {
		a, b := v0[lo:hi], v1[lo:hi]
		for c := range a {
			out[lo+c] = float32(float64(s0*float64(a[c])) + float64(s1*float64(b[c])))
		}
	})
}

var nearswapMethod = &Method{
	Name:    "nearswap",
	Summary: "Takes the other model's value where it is close to the base's and keeps the base's elsewhere: w = clamp(t / |θ0 − θ1|, 0, 1) per element, θ = w·θ1 + (1 − w)·θ0.",
	Paper:   "NearSwap, as defined in mergekit (Goddard et al., Arcee's MergeKit, 2024), https://arxiv.org/abs/2403.13257",
	Params: []Param{
		{Name: "t", Type: Float, Required: true, Min: fptr(0),
			Doc: "Distance scale: elements that differ by at most t take the other model's value; farther ones blend toward the base in proportion t/|θ0 − θ1|."},
	},
	NeedsBase: true,
	MinModels: 1,
	MaxModels: 1,
	merge:     mergeNearswap,
}

func mergeNearswap(j *Job, out []float32) error {
	t := j.float("t")
	v0, v1 := j.Base, j.Models[0]
	return j.run(out, 0, func(_ *scratch, lo, hi int) {
		a, b := v0[lo:hi], v1[lo:hi]
		for c := range a {
			x0, x1 := float64(a[c]), float64(b[c])
			w := max(0, min(1, t/max(math.Abs(x0-x1), 1e-6)))
			out[lo+c] = float32(float64(w*x1) + float64((1-w)*x0))
		}
	})
}
