package merge

import (
	"math"
	"sync/atomic"
)

const soupsPaper = "Model soups: averaging weights of multiple fine-tuned models improves accuracy without increasing inference time (Wortsman et al., 2022), https://arxiv.org/abs/2203.05482"

var linearMethod = &Method{
	Name:    "linear",
	Summary: "Weighted average of the models: uniform and weighted model soups (WiSE-FT is linear of two models). θ = Σ wᵢθᵢ / Σ wᵢ.",
	Paper:   soupsPaper,
	Params: []Param{
		sweptPair(weightParam()),
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
	scale := linearScale{div: sum, unit: allOnes(ws)}
	if !normalize {
		scale = linearScale{mul: 1, unit: scale.unit}
	} else if inv := 1 / sum; exactReciprocal(sum, inv) {
		scale = linearScale{mul: inv, unit: scale.unit}
	}
	if j.Compute != nil {
		if div, mul, ok := unitSumForm(ws, normalize); ok && j.Compute.UnitSum(out, j.Models, div, mul) {
			return nil // Merge scans the output for NaN and infinity
		}
	}
	var bad atomicMin
	bad.init()
	err := j.run(out, 0, func(s *scratch, lo, hi int) {
		o := out[lo:hi]
		if len(j.Models) <= maxFused {
			fusedLinear(o, j.Models, ws, lo, hi, scale)
		} else {
			acc := s.float64s(0, hi-lo)
			weightedSum(acc, j.Models, ws, lo, hi)
			for c, a := range acc {
				o[c] = scale.apply(a)
			}
		}
		// The chunk is still in the cache: checking it here saves a pass over memory.
		if i := nonFiniteIndex(o); i >= 0 {
			bad.lower(lo + i)
		}
	})
	j.scanned, j.firstNonFinite = err == nil, bad.get()
	return err
}

// atomicMin is the smallest index any goroutine reported, or -1 when none did.
type atomicMin struct{ v atomic.Int64 }

func (m *atomicMin) init() { m.v.Store(math.MaxInt64) }

func (m *atomicMin) lower(i int) {
	for {
		cur := m.v.Load()
		if int64(i) >= cur || m.v.CompareAndSwap(cur, int64(i)) {
			return
		}
	}
}

func (m *atomicMin) get() int {
	if v := m.v.Load(); v != math.MaxInt64 {
		return int(v)
	}
	return -1
}

// linearScale is the last step of a linear merge: a division by the weight sum, or a
// multiplication where that gives the same bits (by 1, or by 1/sum when sum is a
// power of two, whose reciprocal is exact: both round the same real number once).
// Division is several times slower than multiplication, and a uniform soup of 2, 4 or 8
// models takes the fast way.
type linearScale struct {
	div  float64 // when non-zero, divide by it
	mul  float64 // otherwise multiply by it
	unit bool    // every weight is 1: w·x is x exactly, so the products can go
}

// unitSumForm says how a backend's unit sum (compute.Merger.UnitSum: float32(s/div),
// or float32(s·mul) when div is 0, s the float64 sum of the inputs) gives this
// merge's bits, when it can: every weight the same power of two w (equalPowerOfTwo;
// 1 included), so that the CPU's Σ w·xᵢ is w·s exactly. Normalized, w·s/(n·w) is the
// real number s/n, rounded once as s/n is; otherwise it is s·w.
func unitSumForm(ws []float64, normalize bool) (div, mul float64, ok bool) {
	w, ok := equalPowerOfTwo(ws)
	if !ok {
		return 0, 0, false
	}
	if !normalize {
		return 0, w, true
	}
	n := float64(len(ws))
	if inv := 1 / n; exactReciprocal(n, inv) {
		return 0, inv, true
	}
	return n, 0, true
}

// equalPowerOfTwo returns w when every weight is the same positive power of two
// within 2^±800 (a soup of two models weighted ½ each, or all 1). Multiplying a
// float32, or a float32 difference, by such a w is exact in float64 and stays a
// normal number, and float64 rounding commutes with it, so a weighted sum Σ w·xᵢ
// computed in any order is exactly w times the plain sum Σ xᵢ in that order: a
// backend that sums without weights gives the CPU's bits.
func equalPowerOfTwo(ws []float64) (float64, bool) {
	if len(ws) == 0 {
		return 0, false
	}
	w := ws[0]
	frac, exp := math.Frexp(w)
	if frac != 0.5 || exp < -800 || exp > 800 {
		return 0, false
	}
	for _, v := range ws[1:] {
		if v != w {
			return 0, false
		}
	}
	return w, true
}

func allOnes(ws []float64) bool {
	for _, w := range ws {
		if w != 1 {
			return false
		}
	}
	return true
}

func (s linearScale) apply(a float64) float32 {
	if s.div != 0 {
		return float32(a / s.div)
	}
	return float32(a * s.mul)
}

// exactReciprocal reports whether inv = 1/sum is exact (sum a power of two with a
// normal reciprocal), so that a/sum == a*inv for every a.
func exactReciprocal(sum, inv float64) bool {
	frac, _ := math.Frexp(sum)
	if frac != 0.5 && frac != -0.5 {
		return false
	}
	ifrac, _ := math.Frexp(inv)
	return (ifrac == 0.5 || ifrac == -0.5) && !math.IsInf(inv, 0) && math.Abs(inv) >= 0x1p-1022
}

// maxFused is the most models fusedLinear handles in one pass.
const maxFused = 4

// fusedLinear writes o[c] = scale(Σᵢ ws[i]·xs[i][lo+c]) for up to maxFused models in
// one pass over the inputs: the same products and additions, in the same order, as
// weightedSum followed by the scale, so the bits are the same, without the float64
// accumulator's round trip through memory.
func fusedLinear(o []float32, xs [][]float32, ws []float64, lo, hi int, scale linearScale) {
	switch len(xs) {
	case 1:
		x0, w0 := xs[0][lo:hi], ws[0]
		o = o[:len(x0)]
		for c, v := range x0 {
			o[c] = scale.apply(float64(w0 * float64(v)))
		}
	case 2:
		x0, x1 := xs[0][lo:hi], xs[1][lo:hi]
		w0, w1 := ws[0], ws[1]
		x1, o = x1[:len(x0)], o[:len(x0)]
		if scale.div == 0 {
			m := scale.mul
			for c, v := range x0 {
				a := float64(w0 * float64(v))
				a += float64(w1 * float64(x1[c]))
				o[c] = float32(a * m)
			}
			return
		}
		for c, v := range x0 {
			a := float64(w0 * float64(v))
			a += float64(w1 * float64(x1[c]))
			o[c] = float32(a / scale.div)
		}
	case 3:
		x0, x1, x2 := xs[0][lo:hi], xs[1][lo:hi], xs[2][lo:hi]
		w0, w1, w2 := ws[0], ws[1], ws[2]
		x1, x2, o = x1[:len(x0)], x2[:len(x0)], o[:len(x0)]
		if scale.div == 0 {
			m := scale.mul
			for c, v := range x0 {
				a := float64(w0 * float64(v))
				a += float64(w1 * float64(x1[c]))
				a += float64(w2 * float64(x2[c]))
				o[c] = float32(a * m)
			}
			return
		}
		for c, v := range x0 {
			a := float64(w0 * float64(v))
			a += float64(w1 * float64(x1[c]))
			a += float64(w2 * float64(x2[c]))
			o[c] = float32(a / scale.div)
		}
	case 4:
		x0, x1, x2, x3 := xs[0][lo:hi], xs[1][lo:hi], xs[2][lo:hi], xs[3][lo:hi]
		w0, w1, w2, w3 := ws[0], ws[1], ws[2], ws[3]
		x1, x2, x3, o = x1[:len(x0)], x2[:len(x0)], x3[:len(x0)], o[:len(x0)]
		if scale.div == 0 && scale.unit { // the uniform soup of four models
			uniformSoup4(o, x0, x1, x2, x3, scale.mul)
			return
		}
		if scale.div == 0 {
			m := scale.mul
			for c, v := range x0 {
				a := float64(w0 * float64(v))
				a += float64(w1 * float64(x1[c]))
				a += float64(w2 * float64(x2[c]))
				a += float64(w3 * float64(x3[c]))
				o[c] = float32(a * m)
			}
			return
		}
		for c, v := range x0 {
			a := float64(w0 * float64(v))
			a += float64(w1 * float64(x1[c]))
			a += float64(w2 * float64(x2[c]))
			a += float64(w3 * float64(x3[c]))
			o[c] = float32(a / scale.div)
		}
	}
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
			Sweep: "alpha: 0 is the first (zero-shot) model, 1 the fine-tune",
			Doc:   "Mixing coefficient α: 0 is the zero-shot model, 1 the fine-tuned one. A list (e.g. [0.25, 0.5, 0.75]) produces one output per value."},
	},
	MinModels: 2,
	MaxModels: 2,
	Roles:     []string{"zeroshot", "finetuned"},
	merge:     mergeWiseFT,
}

func mergeWiseFT(j *Job, out []float32) error {
	a := j.float("alpha")
	if a == 0.5 && j.Compute != nil && j.Compute.UnitSum(out, j.Models, 0, 0.5) {
		return nil // ½·z + ½·f is ½·(z + f) exactly, the unit sum's form (unitSumForm)
	}
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

// uniformSoup4 is fusedLinear for four models of weight 1 and a multiplication:
// o[c] = float32((((x0+x1)+x2)+x3)·m) in float64, four elements per iteration (fewer
// bounds checks and loop steps: Go does not unroll loops itself), the same bits.
func uniformSoup4(o, x0, x1, x2, x3 []float32, m float64) {
	n := len(x0)
	x1, x2, x3, o = x1[:n], x2[:n], x3[:n], o[:n]
	c := 0
	for ; c+4 <= n; c += 4 {
		a, b, d, e, q := x0[c:c+4:c+4], x1[c:c+4:c+4], x2[c:c+4:c+4], x3[c:c+4:c+4], o[c:c+4:c+4]
		s0 := float64(a[0]) + float64(b[0])
		s1 := float64(a[1]) + float64(b[1])
		s2 := float64(a[2]) + float64(b[2])
		s3 := float64(a[3]) + float64(b[3])
		s0 += float64(d[0])
		s1 += float64(d[1])
		s2 += float64(d[2])
		s3 += float64(d[3])
		s0 += float64(e[0])
		s1 += float64(e[1])
		s2 += float64(e[2])
		s3 += float64(e[3])
		q[0] = float32(s0 * m)
		q[1] = float32(s1 * m)
		q[2] = float32(s2 * m)
		q[3] = float32(s3 * m)
	}
	for ; c < n; c++ {
		s := float64(x0[c]) + float64(x1[c])
		s += float64(x2[c])
		s += float64(x3[c])
		o[c] = float32(s * m)
	}
}
