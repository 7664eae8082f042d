package merge

import (
	"math"
	"math/rand/v2"
	"testing"

	"ladle/core/tensor"
)

func TestTaskArithmeticHand(t *testing.T) {
	base := f32(1, 1)
	a, b := f32(2, 3), f32(0, 1) // δa = (1, 2), δb = (−1, 0)
	j := &Job{Tensor: "w", Base: base, Models: [][]float32{a, b},
		ModelParams: []Params{mp("weight", 1.0), mp("weight", -1.0)}, Params: mp("lambda", 0.5)}
	// Σ wδ = (1,2) − (−1,0) = (2,2); θ0 + 0.5·(2,2) = (2,2)
	assertEqual(t, "negation", mergeOK(t, "task_arithmetic", j), f32(2, 2))
	// normalize: Σw = 0 counts as 1, so the same.
	j.Params["normalize"] = true
	assertEqual(t, "normalize with Σw=0", mergeOK(t, "task_arithmetic", j), f32(2, 2))
	// normalize with weights 1 and 3: (1·(1,2) + 3·(−1,0))/4 = (−0.5, 0.5)
	j.ModelParams = []Params{mp("weight", 1.0), mp("weight", 3.0)}
	j.Params = mp("normalize", true)
	assertEqual(t, "normalize", mergeOK(t, "task_arithmetic", j), f32(0.5, 1.5))
	// Analogy weights +1, +1, −1.
	j = &Job{Tensor: "w", Base: f32(0), Models: [][]float32{f32(1), f32(2), f32(4)},
		ModelParams: []Params{nil, nil, mp("weight", -1.0)}}
	assertEqual(t, "analogy", mergeOK(t, "task_arithmetic", j), f32(-1))
}

func TestTaskArithmeticAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{1, 4097, 9000} {
		base := randT(r, n)
		models := [][]float32{near(r, base, 0.1), near(r, base, 0.1), near(r, base, 0.1)}
		ws := []float64{0.5, -1, 2}
		for _, norm := range []bool{false, true} {
			j := &Job{Tensor: "t", Base: base, Models: models, Params: mp("lambda", 0.7, "normalize", norm),
				ModelParams: []Params{mp("weight", ws[0]), mp("weight", ws[1]), mp("weight", ws[2])}}
			want := refCombineSum(base, deltas(base, models), ws, 0.7, norm)
			assertEqual(t, "task_arithmetic", mergeOK(t, "task_arithmetic", j), want)
		}
	}
}

func TestTaskArithmeticLambdaZeroIsBase(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	base := randT(r, 5000)
	j := &Job{Tensor: "t", Base: base, Models: [][]float32{randT(r, 5000), randT(r, 5000)}, Params: mp("lambda", 0)}
	assertEqual(t, "lambda 0", mergeOK(t, "task_arithmetic", j), base)
}

func TestTiesHand(t *testing.T) {
	zero := f32(0, 0, 0, 0)
	ms := [][]float32{f32(3, -1, 2, 0), f32(-2, 2, 2, 1), f32(1, -3, -1, 1)}
	// Element 0: u = 3,−2,1, Σ=2 → +, agreeing 3,1 → 4/2 = 2; element 1: Σ=−2 → −,
	// −1,−3 → −2; element 2: Σ=3 → +, 2,2 → 2; element 3: 0,1,1 → + (0 does not
	// count) → 1.
	j := &Job{Tensor: "w", Base: zero, Models: ms}
	assertEqual(t, "normalize", mergeOK(t, "ties", j), f32(2, -2, 2, 1))
	j.Params = mp("normalize", false)
	assertEqual(t, "sum", mergeOK(t, "ties", j), f32(4, -4, 4, 2))
	j.Params = mp("normalize", false, "lambda", 0.5)
	assertEqual(t, "lambda", mergeOK(t, "ties", j), f32(2, -2, 2, 1))

	// Trim with ties at the threshold: |δ| = 1, 2, 2, 0.5.
	d := f32(1, -2, 2, 0.5)
	one := func(density float64) []float32 {
		return mergeOK(t, "ties", &Job{Tensor: "w", Base: zero, Models: [][]float32{d}, ModelParams: []Params{mp("density", density)}})
	}
	assertEqual(t, "k=2", one(0.5), f32(0, -2, 2, 0))
	assertEqual(t, "k=1 lower index wins", one(0.25), f32(0, -2, 0, 0))
	assertEqual(t, "k=0 keeps nothing", one(0.2), zero)
	assertEqual(t, "density 0", one(0), zero)
	assertEqual(t, "density 1", one(1), d)
	assertEqual(t, "k=3", one(0.75), f32(1, -2, 2, 0))

	// A zero vote elects +.
	j = &Job{Tensor: "w", Base: f32(0), Models: [][]float32{f32(1), f32(-1)}}
	assertEqual(t, "Σu = 0 elects +", mergeOK(t, "ties", j), f32(1))
	// Negative weight: u = −1·2 = −2 agrees with −, divided by Σ mᵢwᵢ = −1... → 2.
	j = &Job{Tensor: "w", Base: f32(0), Models: [][]float32{f32(2), f32(1)}, ModelParams: []Params{mp("weight", -1.0), mp("weight", 1.0)}}
	// u = −2, 1; Σ = −1 → −; agreeing: −2 with w = −1 → mixed −2 / −1 = 2.
	assertEqual(t, "negative weight", mergeOK(t, "ties", j), f32(2))
}

func TestTiesAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, n := range []int{1, 3, 100, 9000, 20000} {
		for _, gen := range []func(*rand.Rand, int) []float32{randT, tiedT} {
			base := gen(r, n)
			models := [][]float32{gen(r, n), gen(r, n), gen(r, n), gen(r, n)}
			ws := []float64{1, 0.5, -0.7, 2}
			dens := []float64{0.3, 0.5, 1, 0.11}
			ds := deltas(base, models)
			trimmed := make([][]float32, len(ds))
			var mps []Params
			for i := range ds {
				trimmed[i] = refTrim(ds[i], dens[i])
				mps = append(mps, mp("weight", ws[i], "density", dens[i]))
			}
			for _, norm := range []bool{true, false} {
				j := &Job{Tensor: "t", Base: base, Models: models, ModelParams: mps, Params: mp("normalize", norm, "lambda", 1.3)}
				assertEqual(t, "ties", mergeOK(t, "ties", j), refCombineTies(base, trimmed, ws, 1.3, norm))
			}
		}
	}
}

// ties with density 1 and a single model is task arithmetic (for either normalize).
func TestTiesDensityOneIsTaskArithmetic(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	base := randT(r, 7000)
	x := near(r, base, 0.05)
	for _, w := range []float64{1, 0.3, -2} {
		for _, norm := range []bool{true, false} {
			p := mp("lambda", 0.8, "normalize", norm)
			ties := mergeOK(t, "ties", &Job{Tensor: "t", Base: base, Models: [][]float32{x}, ModelParams: []Params{mp("weight", w, "density", 1.0)}, Params: p})
			ta := mergeOK(t, "task_arithmetic", &Job{Tensor: "t", Base: base, Models: [][]float32{x}, ModelParams: []Params{mp("weight", w)}, Params: p})
			assertEqual(t, "ties = task_arithmetic", ties, ta)
		}
	}
}

// trim_scope: model, driven as the executor will: a GlobalTopK over the model's
// tensors, then one Cut per tensor.
func TestTiesTrimScopeModel(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	sizes := []int{300, 12000, 5, 9000}
	const density = 0.2
	nm := 2
	bases := make([][]float32, len(sizes))
	models := make([][][]float32, len(sizes)) // [tensor][model]
	for ti, n := range sizes {
		bases[ti] = tiedT(r, n)
		for range nm {
			models[ti] = append(models[ti], tiedT(r, n))
		}
	}
	// Executor: one GlobalTopK per model, two passes.
	gs := make([]*tensor.GlobalTopK, nm)
	for i := range gs {
		gs[i], _ = tensor.NewGlobalTopK(density)
		for ti := range sizes {
			if err := gs[i].Pass1(models[ti][i], bases[ti]); err != nil {
				t.Fatal(err)
			}
		}
		if gs[i].EndPass1() {
			for ti := range sizes {
				if err := gs[i].Pass2(ti, models[ti][i], bases[ti]); err != nil {
					t.Fatal(err)
				}
			}
			if err := gs[i].EndPass2(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Reference: trim each model's concatenated deltas at once.
	refTrimmed := make([][]float32, nm)
	for i := range nm {
		var all []float32
		for ti := range sizes {
			for e := range sizes[ti] {
				all = append(all, models[ti][i][e]-bases[ti][e])
			}
		}
		refTrimmed[i] = refTrim(all, density)
	}
	off := 0
	for ti, n := range sizes {
		cuts := make([]tensor.Cut, nm)
		for i := range nm {
			cuts[i], _ = gs[i].Cut(ti)
		}
		j := &Job{Tensor: "t", Shape: []int64{int64(n)}, Base: bases[ti], Models: models[ti], Options: Options{TrimScope: TrimModel}, Cuts: cuts,
			ModelParams: []Params{mp("density", density), mp("density", density)}}
		ds := make([][]float32, nm)
		for i := range nm {
			ds[i] = refTrimmed[i][off : off+n]
		}
		assertEqual(t, "ties trim_scope model", mergeOK(t, "ties", j), refCombineTies(bases[ti], ds, []float64{1, 1}, 1, true))
		off += n
	}
	// Missing cuts is an error that says what the executor must do.
	mergeErr(t, "ties", &Job{Tensor: "t", Base: bases[0], Models: models[0], Options: Options{TrimScope: TrimModel}}, "GlobalTopK")
}

func TestDareAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	const name = "model.layers.3.self_attn.q_proj.weight"
	for _, n := range []int{1, 1000, 10000} {
		base := randT(r, n)
		models := [][]float32{near(r, base, 0.1), near(r, base, 0.1), near(r, base, 0.1)}
		ws := []float64{1, 0.5, 0.8}
		dens := []float64{0.1, 0.5, 0.9}
		ids := []int{3, 0, 7}
		ds := deltas(base, models)
		for _, rescale := range []bool{true, false} {
			sp := make([][]float32, len(ds))
			var mps []Params
			for i := range ds {
				sp[i] = refDare(ds[i], dens[i], 42, ids[i], name, rescale)
				mps = append(mps, mp("weight", ws[i], "density", dens[i]))
			}
			for _, m := range []string{"dare_linear", "dare_ties"} {
				j := &Job{Tensor: name, Base: base, Models: models, ModelParams: mps, Seed: 42, ModelIDs: ids, Params: mp("rescale", rescale)}
				var want []float32
				if m == "dare_linear" {
					want = refCombineSum(base, sp, ws, 1, false)
				} else {
					want = refCombineTies(base, sp, ws, 1, false)
				}
				assertEqual(t, m, mergeOK(t, m, j), want)
			}
		}
	}
}

// The DARE mask keeps each entry with probability density (within 4 sigma), every kept
// entry is exactly δ/density as float32 computes it, and the mask depends on seed and
// model ID only.
func TestDareKeepRateAndRescale(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	const n = 200000
	base := randT(r, n)
	x := near(r, base, 0.01)
	for _, density := range []float64{0.05, 0.3, 0.9} {
		g := &gtaModel{x: x, rng: tensor.NewRNG(5, 2, "w"), density: density, rescale: rescaleDiv, div: float32(density)}
		d := make([]float32, n)
		sparsify(g, spRandom, base, 0, n, n, d, &scratch{})
		kept := 0
		for e := range d {
			delta := x[e] - base[e]
			if d[e] != 0 {
				kept++
				if d[e] != delta/float32(density) {
					t.Fatalf("density %v: kept %v, want δ/density = %v", density, d[e], delta/float32(density))
				}
			}
		}
		sigma := math.Sqrt(n * density * (1 - density))
		if math.Abs(float64(kept)-n*density) > 4*sigma {
			t.Errorf("density %v: kept %d of %d (expected %v ± %v)", density, kept, n, n*density, 4*sigma)
		}
	}
	// Same seed → same output; another seed or model ID → another mask.
	j := func(seed uint64, id int) []float32 {
		return mergeOK(t, "dare_linear", &Job{Tensor: "w", Base: base[:5000], Models: [][]float32{x[:5000]}, Seed: seed, ModelIDs: []int{id}, ModelParams: []Params{mp("density", 0.5)}})
	}
	assertEqual(t, "reproducible", j(1, 0), j(1, 0))
	if a, b := j(1, 0), j(2, 0); equalBits(a, b) {
		t.Error("seed does not change the mask")
	}
	if a, b := j(1, 0), j(1, 1); equalBits(a, b) {
		t.Error("model ID does not change the mask")
	}
	// density 0 drops everything: the base.
	for _, mode := range []string{"", RescaleL1} {
		for _, m := range []string{"dare_linear", "dare_ties"} {
			j := &Job{Tensor: "w", Base: base[:5000], Models: [][]float32{x[:5000]}, ModelParams: []Params{mp("density", 0)}, Options: Options{RescaleMode: mode}}
			assertEqual(t, m+" density 0", mergeOK(t, m, j), base[:5000])
		}
	}
	mergeErr(t, "dare_ties", &Job{Tensor: "w", Base: base[:5], Models: [][]float32{x[:5]}, ModelParams: []Params{mp("density", 1e-40)}}, "so small")
	// density 1 keeps everything: DARE is then task arithmetic.
	ta := mergeOK(t, "task_arithmetic", &Job{Tensor: "w", Base: base[:5000], Models: [][]float32{x[:5000]}})
	assertEqual(t, "density 1", mergeOK(t, "dare_linear", &Job{Tensor: "w", Base: base[:5000], Models: [][]float32{x[:5000]}}), ta)
}

func equalBits(a, b []float32) bool {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestDareRescaleL1(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	const n = 30000
	base := randT(r, n)
	x := near(r, base, 0.1)
	j := &Job{Tensor: "w", Base: base, Models: [][]float32{x}, Seed: 3, ModelParams: []Params{mp("density", 0.3)},
		Options: Options{RescaleMode: RescaleL1}}
	out := mergeOK(t, "dare_linear", j)
	// The merged delta's L1 norm matches the full delta's.
	full, got := 0.0, 0.0
	for e := range x {
		full += math.Abs(float64(x[e] - base[e]))
		got += math.Abs(float64(out[e] - base[e]))
	}
	if math.Abs(got-full) > 1e-3*full {
		t.Errorf("L1 after rescale %v, full %v", got, full)
	}
	// l1 is rejected where it does not apply.
	mergeErr(t, "ties", &Job{Tensor: "w", Base: base, Models: [][]float32{x}, Options: Options{RescaleMode: RescaleL1}}, "rescale_mode")
}

func TestBreadcrumbsHand(t *testing.T) {
	d := f32(5, 4, 3, 2, 1, 0.5, 0.25, 0.125, 0, -6)
	zero := make([]float32, len(d))
	one := func(density, gamma float64) []float32 {
		return mergeOK(t, "breadcrumbs", &Job{Tensor: "w", Base: zero, Models: [][]float32{d}, ModelParams: []Params{mp("density", density, "gamma", gamma)}})
	}
	// n_top = 1 drops −6, n_keep = 3 keeps 5, 4, 3.
	assertEqual(t, "band", one(0.3, 0.1), f32(5, 4, 3, 0, 0, 0, 0, 0, 0, 0))
	// n_top = 5, n_keep = 7 overlap: n_top shrinks to 3 (drops −6, 5, 4).
	assertEqual(t, "overlap", one(0.7, 0.5), f32(0, 0, 3, 2, 1, 0.5, 0.25, 0.125, 0, 0))
	// n_top = floor(0.05·10) = 0 keeps the top (mergekit would zero the tensor).
	assertEqual(t, "n_top 0", one(0.3, 0.05), f32(5, 4, 0, 0, 0, 0, 0, 0, 0, -6))
	// density 1: n_top shrinks to 0, everything kept.
	assertEqual(t, "density 1", one(1, 0.3), d)
	// density 0 keeps nothing.
	assertEqual(t, "density 0", one(0, 0.1), zero)
	// Ties at the band's edges: |δ| all equal, lower index ranks higher.
	e := f32(1, -1, 1, -1, 1, -1, 1, -1, 1, -1)
	got := mergeOK(t, "breadcrumbs", &Job{Tensor: "w", Base: zero, Models: [][]float32{e}, ModelParams: []Params{mp("density", 0.3, "gamma", 0.2)}})
	assertEqual(t, "equal magnitudes", got, f32(0, 0, 1, -1, 1, 0, 0, 0, 0, 0))
}

func TestBreadcrumbsAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	for _, n := range []int{1, 10, 777, 12000} {
		for _, gen := range []func(*rand.Rand, int) []float32{randT, tiedT} {
			base := gen(r, n)
			models := [][]float32{gen(r, n), gen(r, n), gen(r, n)}
			ws := []float64{1, -0.5, 0.8}
			dens := []float64{0.9, 0.4, 0.2}
			gams := []float64{0.01, 0.2, 0}
			ds := deltas(base, models)
			sp := make([][]float32, len(ds))
			var mps []Params
			for i := range ds {
				sp[i] = refBreadcrumbs(ds[i], dens[i], gams[i])
				mps = append(mps, mp("weight", ws[i], "density", dens[i], "gamma", gams[i]))
			}
			j := &Job{Tensor: "t", Base: base, Models: models, ModelParams: mps, Params: mp("lambda", 0.9)}
			assertEqual(t, "breadcrumbs", mergeOK(t, "breadcrumbs", j), refCombineSum(base, sp, ws, 0.9, false))
			assertEqual(t, "breadcrumbs_ties", mergeOK(t, "breadcrumbs_ties", j), refCombineTies(base, sp, ws, 0.9, false))
		}
	}
}

func TestDellaAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 13))
	const name = "layer.w"
	for _, shape := range [][]int64{{1}, {5}, {7, 1}, {3, 40}, {64, 300}, {2, 3, 4}} {
		n := 1
		for _, s := range shape {
			n *= int(s)
		}
		rowLen := n / int(shape[0])
		if len(shape) == 1 {
			rowLen = n
		}
		for _, gen := range []func(*rand.Rand, int) []float32{randT, tiedT} {
			base := gen(r, n)
			models := [][]float32{gen(r, n), gen(r, n)}
			ws := []float64{1, 0.6}
			dens := []float64{0.5, 0.3}
			eps := []float64{0.15, 0.1}
			ds := deltas(base, models)
			sp := make([][]float32, 2)
			var mps []Params
			for i := range ds {
				sp[i] = refDella(ds[i], rowLen, dens[i], eps[i], 9, i, name)
				mps = append(mps, mp("weight", ws[i], "density", dens[i], "epsilon", eps[i]))
			}
			j := &Job{Tensor: name, Shape: shape, Base: base, Models: models, ModelParams: mps, Seed: 9}
			assertEqual(t, "della", mergeOK(t, "della", j), refCombineTies(base, sp, ws, 1, true))
			assertEqual(t, "della_linear", mergeOK(t, "della_linear", j), refCombineSum(base, sp, ws, 1, false))
		}
	}
}

func TestDellaEdges(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 14))
	base := randT(r, 6000)
	x := near(r, base, 0.1)
	// density ± ε must lie in (0, 1).
	for _, de := range [][2]float64{{0.1, 0.15}, {0.9, 0.1}, {0.5, 0.5}, {1, 0}, {0, 0}} {
		mergeErr(t, "della", &Job{Tensor: "w", Base: base, Models: [][]float32{x}, ModelParams: []Params{mp("density", de[0], "epsilon", de[1])}}, "(0, 1)")
	}
	// density is required.
	mergeErr(t, "della", &Job{Tensor: "w", Base: base, Models: [][]float32{x}}, "density", "required")
	// ε = 0: every p = density, so della_linear draws exactly DARE's mask and rescale.
	p := []Params{mp("density", 0.4, "epsilon", 0.0)}
	della := mergeOK(t, "della_linear", &Job{Tensor: "w", Shape: []int64{60, 100}, Base: base, Models: [][]float32{x}, ModelParams: p, Seed: 4})
	dare := mergeOK(t, "dare_linear", &Job{Tensor: "w", Base: base, Models: [][]float32{x}, ModelParams: []Params{mp("density", 0.4)}, Seed: 4})
	assertEqual(t, "della ε=0 = dare", della, dare)
	// Rows of one element get p = density whatever ε.
	one := mergeOK(t, "della_linear", &Job{Tensor: "w", Shape: []int64{6000, 1}, Base: base, Models: [][]float32{x}, ModelParams: []Params{mp("density", 0.4, "epsilon", 0.3)}, Seed: 4})
	assertEqual(t, "single-element rows", one, dare)
	// Larger magnitudes are kept more often.
	big := make([]float32, 20000)
	zero := make([]float32, 20000)
	for e := range big {
		big[e] = float32(e%100 + 1)
	}
	out := mergeOK(t, "della_linear", &Job{Tensor: "w", Shape: []int64{200, 100}, Base: zero, Models: [][]float32{big}, ModelParams: []Params{mp("density", 0.5, "epsilon", 0.4)}})
	low, high := 0, 0
	for e, v := range out {
		if v != 0 {
			if e%100 < 50 {
				low++
			} else {
				high++
			}
		}
	}
	if !(high > low+1000) {
		t.Errorf("della kept %d small and %d large entries", low, high)
	}
}
