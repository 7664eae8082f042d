package merge

import (
	"math"
)

const (
	tsvPaper = "Task Singular Vectors: Reducing Task Interference in Model Merging (TSV-M, Gargiulo et al., CVPR 2025), https://arxiv.org/abs/2412.00081"
	isoPaper = "No Task Left Behind: Isotropic Model Merging with Common and Task-Specific Subspaces (Iso-C, Iso-CTS; Marczak et al., ICML 2025), https://arxiv.org/abs/2502.04959"
)

func svdWeightParam() Param {
	return Param{Name: "weight", Type: Float, Default: 1.0, PerModel: true,
		Doc: "Scales this model's task vector before the decomposition (fusion_bench's per-task alpha)."}
}

// sweptLambda is λ as the SVD methods' main scalar.
func sweptLambda() Param {
	p := lambdaParam()
	p.Sweep = lambdaAxis
	return p
}

var tsvMergeMethod = &Method{
	Name: "tsv_merge",
	Summary: "Task Singular Vectors (TSV-M): per 2-D tensor, keep each task vector's leading singular components (1/n of the rank each), " +
		"orthogonalise the concatenated left and right singular vectors, and rebuild: τ = Û⊥ diag(Ŝ) V̂⊥ᵀ, θ = θ0 + λτ. Other tensors: the mean task vector.",
	Paper: tsvPaper,
	Params: []Param{svdWeightParam(), sweptLambda(),
		{Name: "rank_fraction", Type: Float, Default: nil, Min: fptr(0), Max: fptr(1),
			Doc: "Fraction f of each tensor's rank k = min(rows, cols) kept per model, r = ⌊f·k⌋. Unset: r = ⌊k/n⌋, the paper's even split."},
	},
	NeedsBase: true, MinModels: 1, Dense: true,
	merge: func(j *Job, out []float32) error { return mergeSVD(j, out, tsvTau) },
}

var isoCMethod = &Method{
	Name: "iso_c",
	Summary: "Isotropic merging (Iso-C): per 2-D tensor, the task-arithmetic sum M = Σ wᵢδᵢ = U S Vᵀ with its spectrum flattened to the mean singular value, " +
		"τ = σ̄ U Vᵀ, θ = θ0 + λτ. Other tensors: the mean task vector.",
	Paper:     isoPaper,
	Params:    []Param{svdWeightParam(), sweptLambda()},
	NeedsBase: true, MinModels: 1, Dense: true,
	merge: func(j *Job, out []float32) error { return mergeSVD(j, out, isoCTau) },
}

var isoCTSMethod = &Method{
	Name: "iso_cts",
	Summary: "Isotropic merging with common and task-specific subspaces (Iso-CTS): the leading directions of Σ wᵢδᵢ plus, per task, the leading directions of its part " +
		"outside them; orthogonalised, with a flat spectrum: τ = σ̄ Û⊥ V̂⊥ᵀ, θ = θ0 + λτ. Other tensors: the mean task vector.",
	Paper: isoPaper,
	Params: []Param{svdWeightParam(), sweptLambda(),
		{Name: "common_space_fraction", Type: Float, Default: 0.8, Min: fptr(0), Max: fptr(1),
			Doc: "Share of each tensor's rank given to the common subspace (about; the task-specific rest is split evenly over the models)."},
	},
	NeedsBase: true, MinModels: 1, Dense: true,
	merge: func(j *Job, out []float32) error { return mergeSVD(j, out, isoCTSTau) },
}

// svdInput is one tensor's weighted task vectors wᵢ·δᵢ, as float64 matrices computed on
// demand from the float32 inputs (δᵢ = θᵢ − θ0 in float64, exact for float32 inputs).
type svdInput struct {
	j          *Job
	rows, cols int
	ws         []float64
	workers    int
}

func (in *svdInput) n() int { return len(in.ws) }

// at is element (r, c) of wᵢδᵢ.
func (in *svdInput) at(i int) func(r, c int) float64 {
	x, b, w := in.j.Models[i], in.j.Base, in.ws[i]
	cols := in.cols
	return func(r, c int) float64 {
		e := r*cols + c
		return float64(w * (float64(x[e]) - float64(b[e])))
	}
}

// dense is wᵢδᵢ as a row-major matrix.
func (in *svdInput) dense(i int) []float64 {
	out := make([]float64, in.rows*in.cols)
	at := in.at(i)
	for r := range in.rows {
		for c := range in.cols {
			out[r*in.cols+c] = at(r, c)
		}
	}
	return out
}

// rowSlices views the row-major rows×cols matrix x as its rows.
func rowSlices(x []float64, rows, cols int) [][]float64 {
	out := make([][]float64, rows)
	for r := range out {
		out[r] = x[r*cols : (r+1)*cols]
	}
	return out
}

func (in *svdInput) k() int { return min(in.rows, in.cols) }

// mergeSVD runs an SVD method's τ on 2-D tensors and the mean task vector elsewhere,
// then writes θ0 + λτ rounded once.
func mergeSVD(j *Job, out []float32, tau func(in *svdInput) []float64) error {
	if err := checkFinite(j); err != nil {
		return err
	}
	if unchanged(j) {
		copy(out, j.Base)
		return nil
	}
	ws, _ := j.weights()
	lam := j.float("lambda")
	if len(j.Shape) != 2 || j.Shape[0] == 0 || j.Shape[1] == 0 {
		n := float64(len(j.Models))
		return j.run(out, 0, func(_ *scratch, lo, hi int) {
			for e := lo; e < hi; e++ {
				s := 0.0
				b := float64(j.Base[e])
				for i, x := range j.Models {
					s += float64(ws[i] * (float64(x[e]) - b))
				}
				out[e] = addScaled(j.Base[e], lam, s/n)
			}
		})
	}
	in := &svdInput{j: j, rows: int(j.Shape[0]), cols: int(j.Shape[1]), ws: ws, workers: max(1, j.Workers)}
	t := tau(in)
	return j.run(out, 0, func(_ *scratch, lo, hi int) {
		for e := lo; e < hi; e++ {
			out[e] = addScaled(j.Base[e], lam, t[e])
		}
	})
}

// addScaled is float32(θ0 + λ·t), and θ0 itself, bit for bit, where λ·t is 0.
func addScaled(base float32, lam, t float64) float32 {
	v := float64(lam * t)
	if v == 0 {
		return base
	}
	return float32(float64(base) + v)
}

// unchanged reports whether every model equals the base bit for bit (all task vectors
// zero): the output is then the base.
func unchanged(j *Job) bool {
	for _, x := range j.Models {
		for e, v := range x {
			if math.Float32bits(v) != math.Float32bits(j.Base[e]) {
				return false
			}
		}
	}
	return true
}

// checkFinite rejects NaN and Inf inputs: a decomposition cannot take them.
func checkFinite(j *Job) error {
	check := func(name string, x []float32) error {
		for e, v := range x {
			if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
				return j.errorf("%s holds %v at element %d; %s mixes whole tensors, so every input must be finite: check the checkpoint", name, v, e, j.method.Name)
			}
		}
		return nil
	}
	if err := check("the base model", j.Base); err != nil {
		return err
	}
	for i, x := range j.Models {
		if err := check(j.modelName(i), x); err != nil {
			return err
		}
	}
	return nil
}

// tsvTau: per model the first r components of wᵢδᵢ's SVD, concatenated in model order;
// τ = Û⊥ diag(Ŝ) V̂⊥ᵀ.
func tsvTau(in *svdInput) []float64 {
	n, k := in.n(), in.k()
	r := k / n
	if v := in.j.lookup(-1, "rank_fraction"); v != nil {
		f, _ := toFloat(v)
		r = int(math.Floor(f * float64(k)))
	}
	var us, vs [][]float64
	var ss []float64
	for i := range n {
		d := svdOf(in.rows, in.cols, in.at(i), r, in.workers)
		for l := range min(r, d.kept()) {
			us, vs, ss = append(us, d.u[l]), append(vs, d.v[l]), append(ss, d.s[l])
		}
	}
	return lowRank(in.rows, in.cols, polar(us, in.rows, in.workers), polar(vs, in.cols, in.workers), ss, in.workers)
}

// sumDelta is M = Σ wᵢδᵢ, element (r, c), summed in model order.
func (in *svdInput) sumDelta() func(r, c int) float64 {
	ats := make([]func(r, c int) float64, in.n())
	for i := range ats {
		ats[i] = in.at(i)
	}
	return func(r, c int) float64 {
		s := 0.0
		for _, at := range ats {
			s += at(r, c)
		}
		return s
	}
}

// isoCTau: M = U S Vᵀ; τ = σ̄ U Vᵀ over the kept components, σ̄ the mean of all k
// singular values.
func isoCTau(in *svdInput) []float64 {
	d := svdOf(in.rows, in.cols, in.sumDelta(), -1, in.workers)
	mean := 0.0
	for _, s := range d.s {
		mean += s
	}
	mean /= float64(len(d.s))
	kept := d.kept()
	coef := make([]float64, kept)
	for l := range coef {
		coef[l] = mean
	}
	return lowRank(in.rows, in.cols, d.u[:kept], d.v[:kept], coef, in.workers)
}

// isoCTSSplit is Iso-CTS' split of the rank k between the common subspace (c
// components) and n task-specific ones (p components each).
func isoCTSSplit(k, n int, f float64) (c, p int) {
	c0 := int(math.Floor(float64(k) * f))
	s := int(math.RoundToEven(float64(k-c0)/float64(n))) * n
	c = max(k-s, 0)
	p = (k - c) / n
	return c, p
}

// isoCTSTau: the first c components of M, plus per model the first p components of
// wᵢδᵢ with its part in the common left subspace removed; stacked (tasks in model
// order, then the common ones), orthogonalised, scaled by their mean singular value.
func isoCTSTau(in *svdInput) []float64 {
	n, k := in.n(), in.k()
	c, p := isoCTSSplit(k, n, in.j.float("common_space_fraction"))
	rows, cols := in.rows, in.cols
	dm := svdOf(rows, cols, in.sumDelta(), c, in.workers)
	nc := min(c, dm.kept())
	cu, cv := dm.u[:nc], dm.v[:nc]
	total := 0.0
	for l := range c {
		total += dm.s[l]
	}
	var us, vs [][]float64
	ucRows := transpose(cu, rows)
	for i := range n {
		x := in.dense(i)
		if nc > 0 {
			// g = Ucᵀ X (nc×cols), then X − Uc g: two products.
			g := make([]float64, nc*cols)
			dotsInto(g, cu, transpose(rowSlices(x, rows, cols), cols), rows, false, in.workers)
			proj := make([]float64, rows*cols)
			dotsInto(proj, ucRows, transpose(rowSlices(g, nc, cols), cols), nc, false, in.workers)
			for e := range x {
				x[e] -= proj[e]
			}
		}
		d := svdOf(rows, cols, func(r, cc int) float64 { return x[r*cols+cc] }, p, in.workers)
		for l := range p {
			total += d.s[l]
		}
		for l := range min(p, d.kept()) {
			us, vs = append(us, d.u[l]), append(vs, d.v[l])
		}
	}
	us, vs = append(us, cu...), append(vs, cv...)
	if n*p+c == 0 {
		return make([]float64, rows*cols)
	}
	mean := total / float64(n*p+c)
	coef := make([]float64, len(us))
	for l := range coef {
		coef[l] = mean
	}
	return lowRank(rows, cols, polar(us, rows, in.workers), polar(vs, cols, in.workers), coef, in.workers)
}
