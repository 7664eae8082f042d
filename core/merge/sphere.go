package merge

import (
	"math"

	"ladle/core/tensor"
)

// mergekit's spherical methods: karcher, nuslerp, multislerp. Vectors are flattened
// tensors (or fibres of them), in float64; every tensor-wide reduction goes through
// tensor.BlockReduce's fixed block order, so the output does not depend on Workers.

var karcherMethod = &Method{
	Name: "karcher",
	Summary: "Karcher (Riemannian, Fréchet) mean on the sphere: each input's direction is averaged by gradient steps along great circles, " +
		"and the result scaled by the mean norm. Equal weights over every input (a base_model counts as one).",
	Paper: "Riemannian center of mass and mollifier smoothing (Karcher, 1977; as implemented in mergekit), https://doi.org/10.1002/cpa.3160300502",
	Params: []Param{
		{Name: "weight", Type: Float, Default: 1.0, PerModel: true, Doc: "Accepted so mergekit recipes run unchanged; karcher weighs every input equally and ignores it."},
		{Name: "max_iter", Type: Int, Default: 10, Min: fptr(0), Doc: "Most gradient steps (each is a few passes over the tensor; most tensors converge in a handful)."},
		{Name: "tol", Type: Float, Default: 1e-5, Min: fptr(0), Doc: "Convergence tolerance: stop when the step's norm is below it; norms at or below it count as zero vectors."},
	},
	OptionalBase: true, MinModels: 1,
	merge: mergeKarcher,
}

// vecs is a set of flattened float32 inputs seen as float64 vectors.
type vecs struct {
	xs      [][]float32
	base    []float32 // subtracted when set (task vectors)
	workers int
}

func (v *vecs) at(i, e int) float64 {
	if v.base != nil {
		return float64(v.xs[i][e]) - float64(v.base[e])
	}
	return float64(v.xs[i][e])
}

// reduce sums f over [0, n) in the fixed block order.
func (v *vecs) reduce(n int, f func(e int) float64) float64 {
	return tensor.BlockReduce(n, v.workers, func(lo, hi int) float64 {
		s := 0.0
		for e := lo; e < hi; e++ {
			s += f(e)
		}
		return s
	})
}

func mergeKarcher(j *Job, out []float32) error {
	xs := j.Models
	if j.Base != nil {
		xs = append([][]float32{j.Base}, xs...)
	}
	if len(xs) == 1 {
		copy(out, xs[0])
		return nil
	}
	maxIter, _ := toInt(j.lookup(-1, "max_iter"))
	tol := j.float("tol")
	v := &vecs{xs: xs, workers: max(1, j.Workers)}
	n, N := len(out), len(xs)
	alpha := 1 / float64(N)
	norms := make([]float64, N)
	var valid []int
	scale := 0.0
	for i := range xs {
		norms[i] = math.Sqrt(v.reduce(n, func(e int) float64 { x := v.at(i, e); return float64(x * x) }))
		scale += float64(alpha * norms[i]) // rounded: no fused multiply-add under GOAMD64=v3
		if norms[i] > tol {
			valid = append(valid, i)
		}
	}
	if len(valid) == 0 {
		clear(out)
		return nil
	}
	wv := 1 / float64(len(valid)) // α renormalised over the valid inputs (all equal)
	unit := func(i, e int) float64 { return v.at(i, e) / norms[i] }
	u := make([]float64, n)
	each := func(f func(e int)) {
		_ = j.run(out, 0, func(_ *scratch, lo, hi int) {
			for e := lo; e < hi; e++ {
				f(e)
			}
		})
	}
	each(func(e int) {
		s := 0.0
		for _, i := range valid {
			s += float64(wv * unit(i, e))
		}
		u[e] = s
	})
	if un := math.Sqrt(v.reduce(n, func(e int) float64 { return float64(u[e] * u[e]) })); un < tol {
		each(func(e int) { u[e] = unit(valid[0], e) })
	} else {
		each(func(e int) { u[e] /= un })
	}
	tv := make([]float64, n)
	coef := make([]float64, len(valid)) // ᾱ·φ/sin φ, 0 for skipped terms
	cosv := make([]float64, len(valid))
	for range maxIter {
		for k, i := range valid {
			c := v.reduce(n, func(e int) float64 { return float64(u[e] * unit(i, e)) })
			c = max(-1, min(1, c))
			phi := tensor.Acos(c)
			cosv[k], coef[k] = c, 0
			if phi >= tol {
				coef[k] = wv * phi / tensor.Sin(phi)
			}
		}
		each(func(e int) {
			s := 0.0
			for k, i := range valid {
				if coef[k] != 0 {
					s += float64(coef[k] * (unit(i, e) - float64(cosv[k]*u[e])))
				}
			}
			tv[e] = s
		})
		tn := math.Sqrt(v.reduce(n, func(e int) float64 { return float64(tv[e] * tv[e]) }))
		if tn < tol {
			break
		}
		c, s := tensor.Cos(tn), tensor.Sin(tn)/tn
		each(func(e int) { u[e] = float64(c*u[e]) + float64(s*tv[e]) })
		if un := math.Sqrt(v.reduce(n, func(e int) float64 { return float64(u[e] * u[e]) })); un > tol {
			each(func(e int) { u[e] /= un })
		}
	}
	each(func(e int) { out[e] = float32(scale * u[e]) })
	return nil
}

var nuslerpMethod = &Method{
	Name: "nuslerp",
	Summary: "mergekit's NuSLERP: spherical interpolation of two models, t = w₂/(w₁ + w₂); with a base_model, of their task vectors, added back to the base. " +
		"Whole tensors, or row or column vectors.",
	Paper: "NuSLERP in MergeKit (Goddard et al., 2024; after Shoemake's slerp, 1985), https://arxiv.org/abs/2403.13257",
	Params: []Param{
		{Name: "weight", Type: Float, Default: 1.0, PerModel: true, Sweep: pairAxis, SweepPair: true, Doc: "Relative weight of each of the two models: t = w₂/(w₁ + w₂) (0.5 when |w₁ + w₂| < 1e-6)."},
		{Name: "nuslerp_flatten", Type: Bool, Default: true, Doc: "Interpolate each tensor as one vector; false interpolates each vector along the last axis (along the first with nuslerp_row_wise)."},
		{Name: "nuslerp_row_wise", Type: Bool, Default: false, Doc: "With nuslerp_flatten false: interpolate the vectors along the first axis instead of the last."},
	},
	OptionalBase: true, MinModels: 2, MaxModels: 2,
	merge: mergeNuslerp,
}

// slerpVec interpolates v1 and v2 (given by element accessors over count elements at
// idx(k)) and writes t-interpolated values through put; mergekit's S in float64.
func nuslerpCoefficients(g11, g12, g22, t float64) (c1, c2 float64) {
	n1, n2 := max(math.Sqrt(g11), 1e-7), max(math.Sqrt(g22), 1e-7)
	dot := max(-1, min(1, g12/(n1*n2)))
	omega := tensor.Acos(dot)
	so := tensor.Sin(omega)
	if math.Abs(so) < 1e-8 {
		return 1 - t, t
	}
	return tensor.Sin((1-t)*omega) / so, tensor.Sin(t*omega) / so
}

func mergeNuslerp(j *Job, out []float32) error {
	w1, w2 := j.modelFloat(0, "weight"), j.modelFloat(1, "weight")
	t := 0.5
	if math.Abs(w1+w2) >= 1e-6 {
		t = w2 / (w1 + w2)
	}
	v := &vecs{xs: j.Models, base: j.Base, workers: max(1, j.Workers)}
	n := len(out)
	write := func(e int, c1, c2 float64) {
		s := float64(c1*v.at(0, e)) + float64(c2*v.at(1, e))
		if j.Base != nil {
			out[e] = addScaled(j.Base[e], 1, s)
		} else {
			out[e] = float32(s)
		}
	}
	// Fibres: count vectors of length size, element k of vector f at f·stride... see below.
	shape := j.Shape
	if len(shape) <= 1 || j.boolean("nuslerp_flatten") || n == 0 {
		var g [3]float64
		g[0] = v.reduce(n, func(e int) float64 { x := v.at(0, e); return float64(x * x) })
		g[1] = v.reduce(n, func(e int) float64 { return float64(v.at(0, e) * v.at(1, e)) })
		g[2] = v.reduce(n, func(e int) float64 { x := v.at(1, e); return float64(x * x) })
		c1, c2 := nuslerpCoefficients(g[0], g[1], g[2], t)
		return j.run(out, 0, func(_ *scratch, lo, hi int) {
			for e := lo; e < hi; e++ {
				write(e, c1, c2)
			}
		})
	}
	// Vectors along the last axis: rows of a (n/last × last) matrix. Along the first:
	// columns of a (first × n/first) matrix.
	var count, length, stride, step int
	if j.boolean("nuslerp_row_wise") {
		length = int(shape[0])
		count, stride, step = n/length, 1, n/length // vector f: elements f + k·step
	} else {
		length = int(shape[len(shape)-1])
		count, stride, step = n/length, length, 1 // vector f: elements f·length + k
	}
	parallelFor(count, max(1, j.Workers), func(f int) {
		start := f * stride
		var g11, g12, g22 float64
		for k := range length {
			e := start + k*step
			a, b := v.at(0, e), v.at(1, e)
			g11 += float64(a * a)
			g12 += float64(a * b)
			g22 += float64(b * b)
		}
		c1, c2 := nuslerpCoefficients(g11, g12, g22, t)
		for k := range length {
			write(start+k*step, c1, c2)
		}
	})
	return nil
}

var multislerpMethod = &Method{
	Name: "multislerp",
	Summary: "mergekit's Multi-SLERP: a weighted spherical barycentre of several models (or of their task vectors, with a base_model), " +
		"through the tangent space at their weighted mean direction, scaled by the weighted mean norm.",
	Paper: "Spherical averages and applications to spherical splines and interpolation (Buss and Fillmore, 2001; Multi-SLERP as implemented in mergekit), https://doi.org/10.1145/502122.502124",
	Params: []Param{
		{Name: "weight", Type: Float, Default: 1.0, PerModel: true, Sweep: pairAxis, SweepPair: true, Doc: "Relative weight of this model."},
		{Name: "normalize_weights", Type: Bool, Default: true, Doc: "Divide the weights by their sum."},
		{Name: "eps", Type: Float, Default: 1e-8, Min: fptr(0), Doc: "Numerical guard added to norms."},
	},
	OptionalBase: true, MinModels: 1,
	merge: mergeMultislerp,
}

func mergeMultislerp(j *Job, out []float32) error {
	if len(j.Models) == 1 {
		copy(out, j.Models[0])
		return nil
	}
	ws, sum := j.weights()
	if j.boolean("normalize_weights") {
		for i := range ws {
			ws[i] /= sum
		}
	}
	eps := j.float("eps")
	v := &vecs{xs: j.Models, base: j.Base, workers: max(1, j.Workers)}
	n, nm := len(out), len(j.Models)
	norms := make([]float64, nm)
	scale := 0.0
	allZero := true
	for i := range nm {
		norms[i] = math.Sqrt(v.reduce(n, func(e int) float64 { x := v.at(i, e); return float64(x * x) }))
		scale += float64(ws[i] * norms[i]) // rounded: no fused multiply-add under GOAMD64=v3
		allZero = allZero && norms[i] == 0
	}
	unit := func(i, e int) float64 { return v.at(i, e) / (norms[i] + eps) }
	m := make([]float64, n)
	each := func(f func(e int)) {
		_ = j.run(out, 0, func(_ *scratch, lo, hi int) {
			for e := lo; e < hi; e++ {
				f(e)
			}
		})
	}
	each(func(e int) {
		s := 0.0
		for i := range nm {
			s += float64(ws[i] * unit(i, e))
		}
		m[e] = s
	})
	put := func(e int, s float64) {
		if j.Base != nil {
			out[e] = addScaled(j.Base[e], 1, s)
		} else {
			out[e] = float32(s)
		}
	}
	mn := math.Sqrt(v.reduce(n, func(e int) float64 { return float64(m[e] * m[e]) }))
	if mn < eps {
		if nm != 2 && !allZero {
			return j.errorf("the models' directions cancel out (their weighted mean direction has norm %g); multislerp cannot pick a direction: change the weights or the models", mn)
		}
		each(func(e int) {
			s := 0.0
			for i := range nm {
				s += float64(ws[i] * v.at(i, e))
			}
			put(e, s)
		})
		return nil
	}
	each(func(e int) { m[e] /= mn })
	proj := make([]float64, nm)
	for i := range nm {
		proj[i] = v.reduce(n, func(e int) float64 { return float64(unit(i, e) * m[e]) })
	}
	tangent := func(e int) float64 {
		s := 0.0
		for i := range nm {
			s += float64(ws[i] * (unit(i, e) - float64(proj[i]*m[e])))
		}
		return s
	}
	tn := math.Sqrt(v.reduce(n, func(e int) float64 { x := tangent(e); return float64(x * x) })) + eps
	c, s := tensor.Cos(tn), tensor.Sin(tn)/tn
	each(func(e int) {
		put(e, float64(float64(float64(m[e]*c)+float64(tangent(e)*s))*scale))
	})
	return nil
}
