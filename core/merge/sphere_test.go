package merge

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// Naive references of mergekit's methods, written from METHODS.md: whole vectors in
// float64, plain loops.

func flat64(x []float32, base []float32) []float64 {
	out := make([]float64, len(x))
	for e := range x {
		out[e] = float64(x[e])
		if base != nil {
			out[e] -= float64(base[e])
		}
	}
	return out
}

func dot64(a, b []float64) float64 {
	s := 0.0
	for e := range a {
		s += a[e] * b[e]
	}
	return s
}

func refKarcher(xs [][]float32, maxIter int, tol float64) []float32 {
	N := len(xs)
	if N == 1 {
		return append([]float32(nil), xs[0]...)
	}
	n := len(xs[0])
	alpha := 1 / float64(N)
	var us [][]float64
	var nsum float64
	for _, x := range xs {
		v := flat64(x, nil)
		norm := math.Sqrt(dot64(v, v))
		nsum += alpha * norm
		if norm > tol {
			for e := range v {
				v[e] /= norm
			}
			us = append(us, v)
		}
	}
	if len(us) == 0 {
		return make([]float32, n)
	}
	wv := 1 / float64(len(us))
	u := make([]float64, n)
	for _, ui := range us {
		for e := range u {
			u[e] += wv * ui[e]
		}
	}
	if un := math.Sqrt(dot64(u, u)); un < tol {
		copy(u, us[0])
	} else {
		for e := range u {
			u[e] /= un
		}
	}
	for range maxIter {
		T := make([]float64, n)
		for _, ui := range us {
			c := math.Max(-1, math.Min(1, dot64(u, ui)))
			phi := math.Acos(c)
			if phi < tol {
				continue
			}
			for e := range T {
				T[e] += wv * phi / math.Sin(phi) * (ui[e] - c*u[e])
			}
		}
		tn := math.Sqrt(dot64(T, T))
		if tn < tol {
			break
		}
		for e := range u {
			u[e] = math.Cos(tn)*u[e] + math.Sin(tn)*T[e]/tn
		}
		if un := math.Sqrt(dot64(u, u)); un > tol {
			for e := range u {
				u[e] /= un
			}
		}
	}
	out := make([]float32, n)
	for e := range out {
		out[e] = float32(nsum * u[e])
	}
	return out
}

// refSlerpS is mergekit's S(v1, v2) at t.
func refSlerpS(v1, v2 []float64, t float64) []float64 {
	n1, n2 := math.Max(math.Sqrt(dot64(v1, v1)), 1e-7), math.Max(math.Sqrt(dot64(v2, v2)), 1e-7)
	dot := math.Max(-1, math.Min(1, dot64(v1, v2)/(n1*n2)))
	omega := math.Acos(dot)
	out := make([]float64, len(v1))
	for e := range out {
		if math.Abs(math.Sin(omega)) < 1e-8 {
			out[e] = (1-t)*v1[e] + t*v2[e]
		} else {
			out[e] = (math.Sin((1-t)*omega)*v1[e] + math.Sin(t*omega)*v2[e]) / math.Sin(omega)
		}
	}
	return out
}

// refNuslerp works on explicit fibres: fibre(k) lists the element indices of vector k.
func refNuslerp(base []float32, m1, m2 []float32, w1, w2 float64, fibres [][]int) []float32 {
	t := 0.5
	if math.Abs(w1+w2) >= 1e-6 {
		t = w2 / (w1 + w2)
	}
	a, b := flat64(m1, base), flat64(m2, base)
	out := make([]float32, len(m1))
	for _, f := range fibres {
		v1, v2 := make([]float64, len(f)), make([]float64, len(f))
		for k, e := range f {
			v1[k], v2[k] = a[e], b[e]
		}
		s := refSlerpS(v1, v2, t)
		for k, e := range f {
			if base != nil {
				out[e] = float32(float64(base[e]) + s[k])
			} else {
				out[e] = float32(s[k])
			}
		}
	}
	return out
}

func refMultislerp(base []float32, xs [][]float32, ws []float64, normalize bool, eps float64) []float32 {
	if len(xs) == 1 {
		return append([]float32(nil), xs[0]...)
	}
	ws = slices.Clone(ws)
	if normalize {
		s := 0.0
		for _, w := range ws {
			s += w
		}
		for i := range ws {
			ws[i] /= s
		}
	}
	n := len(xs[0])
	var us [][]float64
	var scale float64
	m := make([]float64, n)
	for i, x := range xs {
		v := flat64(x, base)
		norm := math.Sqrt(dot64(v, v))
		scale += ws[i] * norm
		for e := range v {
			v[e] /= norm + eps
			m[e] += ws[i] * v[e]
		}
		us = append(us, v)
	}
	mn := math.Sqrt(dot64(m, m))
	for e := range m {
		m[e] /= mn
	}
	T := make([]float64, n)
	for i, u := range us {
		p := dot64(u, m)
		for e := range T {
			T[e] += ws[i] * (u[e] - p*m[e])
		}
	}
	tau := math.Sqrt(dot64(T, T)) + eps
	out := make([]float32, n)
	for e := range out {
		r := (m[e]*math.Cos(tau) + T[e]*math.Sin(tau)/tau) * scale
		if base != nil {
			r += float64(base[e])
		}
		out[e] = float32(r)
	}
	return out
}

func refSCE(base []float32, xs [][]float32, topk, lam float64) []float32 {
	n, nm := len(base), len(xs)
	ds := make([][]float64, nm)
	for i, x := range xs {
		ds[i] = make([]float64, n)
		for e := range x {
			ds[i][e] = float64(x[e] - base[e])
		}
	}
	if topk < 1 {
		type pos struct {
			e int
			v float64
		}
		var nz []pos
		for e := range n {
			mean := 0.0
			for i := range ds {
				mean += ds[i][e] / float64(nm)
			}
			v := 0.0
			for i := range ds {
				v += (ds[i][e] - mean) * (ds[i][e] - mean) / float64(nm)
			}
			if v != 0 {
				nz = append(nz, pos{e, v})
			}
		}
		sort.SliceStable(nz, func(a, b int) bool { return nz[a].v > nz[b].v })
		keep := map[int]bool{}
		for _, p := range nz[:int(math.Floor(topk*float64(len(nz))))] {
			keep[p.e] = true
		}
		for i := range ds {
			for e := range ds[i] {
				if !keep[e] {
					ds[i][e] = 0
				}
			}
		}
	}
	eta := make([]float64, nm)
	total := 0.0
	for i := range ds {
		eta[i] = dot64(ds[i], ds[i]) / float64(n)
		total += eta[i]
	}
	for i := range eta {
		if total == 0 {
			eta[i] = 1 / float64(nm)
		} else {
			eta[i] /= total
		}
	}
	out := make([]float32, n)
	for e := range out {
		s := 0.0
		for i := range ds {
			s += ds[i][e]
		}
		sign := 1.0
		if s < 0 {
			sign = -1
		}
		num, den := 0.0, 0.0
		for i := range ds {
			if ds[i][e] != 0 && math.Signbit(ds[i][e]) == (sign < 0) {
				num += eta[i] * ds[i][e]
				den += eta[i]
			}
		}
		out[e] = float32(float64(base[e]) + lam*num/math.Max(den, 1e-6))
	}
	return out
}

func TestKarcherMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	for _, n := range []int{1, 7, 5000} {
		for _, nm := range []int{1, 2, 4} {
			var xs [][]float32
			for range nm {
				xs = append(xs, randT(r, n))
			}
			j := &Job{Tensor: "model.layers.3.mlp.up_proj.weight", Models: xs}
			assertClose(t, "karcher", mergeOK(t, "karcher", j), refKarcher(xs, 10, 1e-5), 1e-6, 1e-7)
			// A base_model counts as one more input.
			j = &Job{Tensor: "w", Base: xs[0], Models: xs[1:], Params: Params{"max_iter": 3}}
			if nm > 1 {
				assertClose(t, "karcher with base", mergeOK(t, "karcher", j), refKarcher(xs, 3, 1e-5), 1e-6, 1e-7)
			}
		}
	}
	// A zero input is not a direction; all zeros give zeros.
	z := make([]float32, 5)
	assertEqual(t, "zeros", mergeOK(t, "karcher", &Job{Tensor: "w", Models: [][]float32{z, z}}), z)
	x := f32(1, 2, 3, 4, 5)
	assertClose(t, "one zero", mergeOK(t, "karcher", &Job{Tensor: "w", Models: [][]float32{x, z}}), refKarcher([][]float32{x, z}, 10, 1e-5), 1e-6, 0)
}

func fibresOf(shape []int, lastAxis, rowWise, flatten bool) [][]int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if flatten || len(shape) <= 1 {
		f := make([]int, n)
		for e := range f {
			f[e] = e
		}
		return [][]int{f}
	}
	var out [][]int
	if rowWise { // along the first axis
		rest := n / shape[0]
		for f := range rest {
			var idx []int
			for k := range shape[0] {
				idx = append(idx, k*rest+f)
			}
			out = append(out, idx)
		}
		return out
	}
	last := shape[len(shape)-1]
	for f := range n / last {
		var idx []int
		for k := range last {
			idx = append(idx, f*last+k)
		}
		out = append(out, idx)
	}
	return out
}

func TestNuslerpMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(63, 64))
	shape := []int{6, 4, 5}
	n := 120
	base := randT(r, n)
	m1, m2 := near(r, base, 0.2), near(r, base, 0.2)
	for _, withBase := range []bool{false, true} {
		for _, c := range []struct{ flatten, rowWise bool }{{true, false}, {false, false}, {false, true}} {
			for _, w := range [][2]float64{{1, 1}, {0.3, 0.7}, {1, -1}} {
				j := &Job{Tensor: "model.layers.0.self_attn.o_proj.weight", Shape: []int64{6, 4, 5}, Models: [][]float32{m1, m2},
					ModelParams: []Params{{"weight": w[0]}, {"weight": w[1]}},
					Params:      Params{"nuslerp_flatten": c.flatten, "nuslerp_row_wise": c.rowWise}}
				var b []float32
				if withBase {
					j.Base, b = base, base
				}
				want := refNuslerp(b, m1, m2, w[0], w[1], fibresOf(shape, true, c.rowWise, c.flatten))
				got := mergeOK(t, "nuslerp", j)
				assertClose(t, "nuslerp", got, want, 1e-6, 1e-7)
				j.Workers = 3
				assertEqual(t, "nuslerp workers", mergeOK(t, "nuslerp", j), got)
			}
		}
	}
	// Opposite vectors: float64's sin(acos(−1)) is 1.2e-16, below the 1e-8 guard: linear.
	a := f32(1, 2, 3)
	b := f32(-1, -2, -3)
	assertClose(t, "antiparallel", mergeOK(t, "nuslerp", &Job{Tensor: "w", Models: [][]float32{a, b}}), f32(0, 0, 0), 0, 1e-7)
}

func TestMultislerpMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(65, 66))
	n := 3000
	base := randT(r, n)
	xs := [][]float32{near(r, base, 0.1), near(r, base, 0.1), near(r, base, 0.1)}
	ws := []float64{1, 2, 0.5}
	for _, withBase := range []bool{false, true} {
		for _, norm := range []bool{true, false} {
			j := &Job{Tensor: "w", Models: xs, ModelParams: []Params{{"weight": ws[0]}, {"weight": ws[1]}, {"weight": ws[2]}},
				Params: Params{"normalize_weights": norm}}
			var b []float32
			if withBase {
				j.Base, b = base, base
			}
			got := mergeOK(t, "multislerp", j)
			assertClose(t, "multislerp", got, refMultislerp(b, xs, ws, norm, 1e-8), 1e-6, 1e-7)
		}
	}
	// Two opposite models: the weighted sum; three that cancel: an error.
	a := f32(1, 2)
	neg := f32(-1, -2)
	assertClose(t, "opposite pair", mergeOK(t, "multislerp", &Job{Tensor: "w", Models: [][]float32{a, neg}}), f32(0, 0), 0, 1e-7)
	mergeErr(t, "multislerp", &Job{Tensor: "w", Models: [][]float32{a, neg, a, neg}}, "cancel")
	assertEqual(t, "one model", mergeOK(t, "multislerp", &Job{Tensor: "w", Models: [][]float32{a}}), a)
}

func TestSCEMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(67, 68))
	n := 4000
	base := randT(r, n)
	xs := [][]float32{near(r, base, 0.1), near(r, base, 0.1), near(r, base, 0.05)}
	for e := 0; e < n; e += 9 { // positions where every task vector is zero: variance 0
		for _, x := range xs {
			x[e] = base[e]
		}
	}
	for _, k := range []float64{1, 0.5, 0.1, 0} {
		j := &Job{Tensor: "w", Base: base, Models: xs, Params: Params{"select_topk": k}}
		got := mergeOK(t, "sce", j)
		assertClose(t, "sce", got, refSCE(base, xs, k, 1), 1e-6, 1e-7)
		j.Params["lambda"] = 0.6
		assertClose(t, "sce lambda", mergeOK(t, "sce", j), refSCE(base, xs, k, 0.6), 1e-6, 1e-7)
	}
}

func TestPassthrough(t *testing.T) {
	x := f32(1, -2, 3.5)
	assertEqual(t, "copy", mergeOK(t, "passthrough", &Job{Tensor: "w", Models: [][]float32{x}}), x)
	assertEqual(t, "scaled", mergeOK(t, "passthrough", &Job{Tensor: "w", Models: [][]float32{x}, ModelParams: []Params{{"scale": 0.5}}}), f32(0.5, -1, 1.75))
	mergeErr(t, "passthrough", &Job{Tensor: "w", Models: [][]float32{x, x}}, "at most 1")
}

// With a base, a tensor whose task vectors are all zero comes out bit-equal to it.
func TestSphereMethodsZeroTaskVectors(t *testing.T) {
	base := f32(1, -2, 0, 3)
	base[2] = float32(math.Copysign(0, -1))
	for _, name := range []string{"nuslerp", "multislerp", "sce"} {
		j := &Job{Tensor: "w", Base: base, Models: [][]float32{slices.Clone(base), slices.Clone(base)}}
		got := mergeOK(t, name, j)
		for e := range got {
			if math.Float32bits(got[e]) != math.Float32bits(base[e]) {
				t.Fatalf("%s: element %d = %v, want the base's %v", name, e, got[e], base[e])
			}
		}
	}
}
