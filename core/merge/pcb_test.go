package merge

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"ladle/core/tensor"
)

// refPCB restates METHODS.md's pcb one step at a time over whole rows, with package
// math's Exp and Tanh.
func refPCB(base []float32, models [][]float32, ws []float64, rho, lam float64) []float32 {
	n, d := len(models), len(base)
	T := make([][]float64, n)
	for i, x := range models {
		T[i] = make([]float64, d)
		for e := range x {
			T[i][e] = float64(x[e]) - float64(base[e])
		}
	}
	sortedCopy := func(x []float64) []float64 {
		s := append([]float64(nil), x...)
		sort.Float64s(s)
		return s
	}
	clamp := func(x []float64, a, b float64) []float64 {
		s := sortedCopy(x)
		lo, hi := s[int(math.Floor(float64(d)*a))], s[int(float64(d)*(1-b)-1)]
		out := make([]float64, d)
		for e, v := range x {
			out[e] = math.Min(math.Max(v, lo), hi)
		}
		return out
	}
	norm := func(x []float64) []float64 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range x {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		out := make([]float64, d)
		for e, v := range x {
			if hi > lo {
				out[e] = (v - lo) / (hi - lo)
			}
		}
		return out
	}
	total := make([]float64, d)
	for i := range T {
		for e := range total {
			total[e] += T[i][e]
		}
	}
	var tc, scale [][]float64
	for i := range T {
		abs := make([]float64, d)
		for e, v := range T[i] {
			abs[e] = math.Abs(v)
		}
		A := clamp(abs, 1e-4, 1e-4)
		NA := norm(A)
		beta := make([]float64, d)
		c := make([]float64, d)
		for e := range beta {
			beta[e] = math.Exp(float64(n)*NA[e]*NA[e]) * math.Tanh(T[i][e]*total[e])
			sign := 0.0
			if T[i][e] > 0 {
				sign = 1
			} else if T[i][e] < 0 {
				sign = -1
			}
			c[e] = sign * A[e]
		}
		tc = append(tc, c)
		scale = append(scale, norm(clamp(beta, 1-rho, 0)))
	}
	out := make([]float32, d)
	for e := range out {
		num, den := 0.0, 0.0
		for i := range T {
			num += ws[i] * tc[i][e] * scale[i][e]
			den += scale[i][e]
		}
		out[e] = float32(float64(base[e]) + lam*num/math.Max(den, 1e-12))
	}
	return out
}

func TestPCBMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for _, tc := range []struct {
		d, n     int
		rho, lam float64
	}{
		{1000, 3, 0.1, 1}, {20000, 4, 0.2, 0.8}, {7, 2, 1, 1}, {1, 2, 0.5, 1}, {333, 1, 0.3, 2},
	} {
		base := randT(r, tc.d)
		var models [][]float32
		var ws []float64
		var mps []Params
		for range tc.n {
			models = append(models, near(r, base, 0.02))
			w := 0.5 + r.Float64()
			ws = append(ws, w)
			mps = append(mps, Params{"weight": w})
		}
		// Ties in magnitude, and zeros in one task vector.
		for e := 0; e < tc.d; e += 5 {
			models[0][e] = base[e]
		}
		j := &Job{Tensor: "model.layers.1.self_attn.q_proj.weight", Base: base, Models: models, ModelParams: mps,
			Params: Params{"density": tc.rho, "lambda": tc.lam}}
		got := mergeOK(t, "pcb", j)
		want := refPCB(base, models, ws, tc.rho, tc.lam)
		assertClose(t, "pcb", got, want, 1e-6, 1e-9)
		j.Workers = 4
		assertEqual(t, "pcb with 4 workers", mergeOK(t, "pcb", j), got)
	}
}

func TestPCBDensityRange(t *testing.T) {
	j := &Job{Tensor: "w", Base: f32(1, 2), Models: [][]float32{f32(1, 3)}, Params: Params{"density": 0.0}}
	mergeErr(t, "pcb", j, "density")
}

// tensor.Exp and detTanh agree with package math to a few ulps everywhere that matters.
func TestDeterministicExpTanh(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for range 100000 {
		x := (r.Float64()*2 - 1) * math.Pow(10, float64(r.IntN(8)-5))
		if e, w := tensor.Exp(x), math.Exp(x); math.Abs(e-w) > 4e-16*w {
			t.Fatalf("tensor.Exp(%v) = %v, math.Exp %v", x, e, w)
		}
		if e, w := detTanh(x), math.Tanh(x); math.Abs(e-w) > 1e-14*math.Abs(w) {
			t.Fatalf("detTanh(%v) = %v, math.Tanh %v", x, e, w)
		}
	}
	for _, x := range []float64{0, 800, -800, math.Inf(1), math.Inf(-1)} {
		if e, w := tensor.Exp(x), math.Exp(x); e != w {
			t.Errorf("tensor.Exp(%v) = %v, want %v", x, e, w)
		}
	}
	if !math.IsNaN(tensor.Exp(math.NaN())) || !math.IsNaN(detTanh(math.NaN())) {
		t.Error("NaN in, NaN out")
	}
}

// kth is the k-th order statistic, as sorting gives it, on ties, runs and extremes.
func TestKth(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{1, 2, 3, 10, 1000, 4097} {
		for _, gen := range []func() float64{r.NormFloat64, func() float64 { return float64(r.IntN(5)) }, func() float64 { return 1 }} {
			x := make([]float64, n)
			for i := range x {
				x[i] = gen()
			}
			sorted := append([]float64(nil), x...)
			sort.Float64s(sorted)
			for _, k := range []int{0, n / 3, n / 2, n - 1} {
				buf := append([]float64(nil), x...)
				if got := kth(buf, k); got != sorted[k] {
					t.Fatalf("n=%d k=%d: %v, want %v", n, k, got, sorted[k])
				}
			}
		}
	}
}
