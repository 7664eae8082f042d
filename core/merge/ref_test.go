package merge

// Deliberately naive reference implementations of METHODS.md, one element at a time,
// with sort-based selection. They share with the package only the RNG contract
// (tensor.NewRNG), which is specified independently and tested in package tensor.
// Products that are then added are wrapped in float64(...) as in the package: the
// contract rounds every product, and without the conversion Go may fuse them into FMAs
// (arm64, GOAMD64=v3), which would make the bit-exact comparisons fail on those
// targets for a reason that is the reference's, not the package's.

import (
	"math"
	"sort"

	"ladle/core/tensor"
)

func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }

func deltas(base []float32, models [][]float32) [][]float32 {
	ds := make([][]float32, len(models))
	for i, x := range models {
		ds[i] = make([]float32, len(x))
		for e := range x {
			ds[i][e] = x[e] - base[e]
		}
	}
	return ds
}

func refLinear(models [][]float32, ws []float64, normalize bool) []float32 {
	out := make([]float32, len(models[0]))
	sw := 0.0
	for _, w := range ws {
		sw += w
	}
	for e := range out {
		s := 0.0
		for i := range models {
			s += float64(ws[i] * float64(models[i][e]))
		}
		if normalize {
			s /= sw
		}
		out[e] = float32(s)
	}
	return out
}

// refCombineSum is task arithmetic over given (possibly sparsified) deltas.
func refCombineSum(base []float32, ds [][]float32, ws []float64, lam float64, normalize bool) []float32 {
	out := make([]float32, len(base))
	den := 1.0
	if normalize {
		sw := 0.0
		for _, w := range ws {
			sw += w
		}
		if math.Abs(sw) >= 1e-8 {
			den = sw
		}
	}
	for e := range out {
		s := 0.0
		for i := range ds {
			s += float64(ws[i] * float64(ds[i][e]))
		}
		out[e] = float32(float64(base[e]) + float64(lam*(s/den)))
	}
	return out
}

// refCombineTies is TIES steps 2 to 6 over given deltas.
func refCombineTies(base []float32, ds [][]float32, ws []float64, lam float64, normalize bool) []float32 {
	out := make([]float32, len(base))
	for e := range out {
		sum := 0.0
		for i := range ds {
			sum += float64(ws[i] * float64(ds[i][e]))
		}
		sign := 1.0
		if sum < 0 {
			sign = -1
		}
		mixed, div := 0.0, 0.0
		for i := range ds {
			u := float64(ws[i] * float64(ds[i][e]))
			if u != 0 && math.Signbit(u) == math.Signbit(sign) {
				mixed += u
				div += ws[i]
			}
		}
		if normalize {
			if div == 0 {
				div = 1
			}
			mixed /= div
		}
		out[e] = float32(float64(base[e]) + float64(lam*mixed))
	}
	return out
}

// descOrder is the indices sorted by descending |d|, equal magnitudes by index.
func descOrder(d []float32) []int {
	idx := make([]int, len(d))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return abs32(d[idx[a]]) > abs32(d[idx[b]]) })
	return idx
}

func refTrim(d []float32, density float64) []float32 {
	k := int(math.Floor(density * float64(len(d))))
	out := make([]float32, len(d))
	for _, i := range descOrder(d)[:k] {
		out[i] = d[i]
	}
	return out
}

func refBreadcrumbs(d []float32, density, gamma float64) []float32 {
	n := len(d)
	nKeep := int(math.Floor(density * float64(n)))
	nTop := int(math.Floor(gamma * float64(n)))
	if nTop+nKeep > n {
		nTop = n - nKeep
	}
	out := make([]float32, n)
	for _, i := range descOrder(d)[nTop : nTop+nKeep] {
		out[i] = d[i]
	}
	return out
}

func refDare(d []float32, density float64, seed uint64, model int, name string, rescale bool) []float32 {
	rng := tensor.NewRNG(seed, model, name)
	out := make([]float32, len(d))
	for e := range d {
		if rng.Float64(int64(e)) < density {
			out[e] = d[e]
			if rescale {
				out[e] = d[e] / float32(density)
			}
		}
	}
	return out
}

func refDella(d []float32, rowLen int, density, eps float64, seed uint64, model int, name string) []float32 {
	rng := tensor.NewRNG(seed, model, name)
	out := make([]float32, len(d))
	for rs := 0; rs < len(d); rs += rowLen {
		row := d[rs : rs+rowLen]
		idx := make([]int, rowLen)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return abs32(row[idx[a]]) < abs32(row[idx[b]]) })
		for r, i := range idx { // r = rank − 1
			p := density
			if rowLen > 1 {
				p = (density - eps) + float64((2*eps/float64(rowLen-1))*float64(r))
			}
			if rng.Float64(int64(rs+i)) < p {
				out[rs+i] = row[i] / float32(p)
			}
		}
	}
	return out
}

func refModelStock(base []float32, models [][]float32, rowLen int) []float32 {
	n := len(models)
	ds := deltas(base, models)
	out := make([]float32, len(base))
	for rs := 0; rs < len(base); rs += rowLen {
		dot := func(a, b []float32) float64 {
			s := 0.0
			for e := rs; e < rs+rowLen; e++ {
				s += float64(a[e]) * float64(b[e])
			}
			return s
		}
		cos, pairs := 0.0, 0
		for i := range n {
			for k := i + 1; k < n; k++ {
				c := dot(ds[i], ds[k]) / math.Max(math.Sqrt(dot(ds[i], ds[i]))*math.Sqrt(dot(ds[k], ds[k])), 1e-6)
				cos += math.Max(-1, math.Min(1, c))
				pairs++
			}
		}
		cos /= float64(pairs)
		t := float64(n) * cos / (1 + float64(n-1)*cos)
		for e := rs; e < rs+rowLen; e++ {
			mean := 0.0
			for i := range models {
				mean += float64(models[i][e])
			}
			mean /= float64(n)
			out[e] = float32(t*mean + (1-t)*float64(base[e]))
		}
	}
	return out
}

// refSlerp follows mergekit's slerp: normalised copies, dot, linear fallback.
func refSlerp(v0, v1 []float32, t float64) []float32 {
	norm := func(v []float32) float64 {
		s := 0.0
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		return math.Sqrt(s)
	}
	n0, n1 := norm(v0), norm(v1)
	dot := 0.0
	for e := range v0 {
		a, b := float64(v0[e]), float64(v1[e])
		if n0 > 1e-8 {
			a /= n0
		}
		if n1 > 1e-8 {
			b /= n1
		}
		dot += a * b
	}
	out := make([]float32, len(v0))
	if math.Abs(dot) > 0.9995 {
		for e := range out {
			out[e] = float32((1-t)*float64(v0[e]) + t*float64(v1[e]))
		}
		return out
	}
	th := math.Acos(dot)
	s0, s1 := math.Sin((1-t)*th)/math.Sin(th), math.Sin(t*th)/math.Sin(th)
	for e := range out {
		out[e] = float32(s0*float64(v0[e]) + s1*float64(v1[e]))
	}
	return out
}

func refNearswap(v0, v1 []float32, t float64) []float32 {
	out := make([]float32, len(v0))
	for e := range out {
		d := math.Abs(float64(v0[e]) - float64(v1[e]))
		w := t / math.Max(d, 1e-6)
		w = math.Max(0, math.Min(1, w))
		out[e] = float32(float64(w*float64(v1[e])) + float64((1-w)*float64(v0[e])))
	}
	return out
}

func refFisher(models, fisher [][]float32, ws []float64) []float32 {
	out := make([]float32, len(models[0]))
	for e := range out {
		num, den := 0.0, 0.0
		for i := range models {
			f := float64(ws[i] * math.Max(float64(fisher[i][e]), 1e-6))
			num += float64(f * float64(models[i][e]))
			den += f
		}
		out[e] = float32(num / den)
	}
	return out
}

func refRWS(pre, clean, robust []float32) []float32 {
	aa, da := 0.0, 0.0
	for e := range pre {
		a, d := float64(clean[e]-pre[e]), float64(robust[e]-pre[e])
		aa += a * a
		da += d * a
	}
	out := make([]float32, len(pre))
	for e := range out {
		a, d := float64(clean[e]-pre[e]), float64(robust[e]-pre[e])
		c := 0.0
		if aa > 0 {
			c = da / aa
		}
		out[e] = float32(d - c*a)
	}
	return out
}
