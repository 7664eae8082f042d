package merge

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestLinearHand(t *testing.T) {
	j := &Job{Tensor: "w", Models: [][]float32{f32(1, 2), f32(3, 4)},
		ModelParams: []Params{mp("weight", 1.0), mp("weight", 3)}}
	// (1·1 + 3·3)/4 = 2.5, (1·2 + 3·4)/4 = 3.5
	assertEqual(t, "normalized", mergeOK(t, "linear", j), f32(2.5, 3.5))
	j.Params = mp("normalize", false)
	assertEqual(t, "unnormalized", mergeOK(t, "linear", j), f32(10, 14))
	// Uniform soup by default.
	assertEqual(t, "uniform", mergeOK(t, "linear", &Job{Tensor: "w", Models: [][]float32{f32(1, 2), f32(3, 4)}}), f32(2, 3))
	// Σw = 0 with normalize is an error.
	j = &Job{Tensor: "w", Models: [][]float32{f32(1), f32(3)}, ModelParams: []Params{mp("weight", 1.0), mp("weight", -1.0)}}
	mergeErr(t, "linear", j, "sum to 0", "normalize: false")
	j.Params = mp("normalize", false)
	assertEqual(t, "negative weights", mergeOK(t, "linear", j), f32(-2))
}

func TestLinearAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 7, 5000, 10001} {
		models := [][]float32{randT(r, n), randT(r, n), randT(r, n)}
		ws := []float64{0.2, 1.7, -0.4}
		for _, norm := range []bool{true, false} {
			j := &Job{Tensor: "x", Models: models, Params: mp("normalize", norm),
				ModelParams: []Params{mp("weight", ws[0]), mp("weight", ws[1]), mp("weight", ws[2])}}
			assertEqual(t, "linear", mergeOK(t, "linear", j), refLinear(models, ws, norm))
		}
	}
}

// A soup of identical models is that model, bit for bit, whatever the weights.
func TestLinearIdenticalModels(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	x := randT(r, 20000)
	for _, ws := range [][]float64{{1, 1, 1}, {0.1, 0.3, 0.7}, {1.0 / 3, 1.0 / 3, 1.0 / 3}, {5, -2, 0.25}} {
		var mps []Params
		for _, w := range ws {
			mps = append(mps, mp("weight", w))
		}
		j := &Job{Tensor: "x", Models: [][]float32{x, x, x}, ModelParams: mps}
		assertEqual(t, "identical", mergeOK(t, "linear", j), x)
	}
}

func TestWiseFT(t *testing.T) {
	j := &Job{Tensor: "w", Models: [][]float32{f32(0, 4, 2), f32(4, 0, 2)}, Params: mp("alpha", 0.25)}
	assertEqual(t, "alpha 0.25", mergeOK(t, "wise_ft", j), f32(1, 3, 2))
	r := rand.New(rand.NewPCG(3, 3))
	z, f := randT(r, 3000), randT(r, 3000)
	j = &Job{Tensor: "w", Models: [][]float32{z, f}}
	j.Params = mp("alpha", 0)
	assertEqual(t, "alpha 0", mergeOK(t, "wise_ft", j), z)
	j.Params = mp("alpha", 1)
	assertEqual(t, "alpha 1", mergeOK(t, "wise_ft", j), f)
	j.Params = nil // default 0.5 equals the uniform linear soup
	assertEqual(t, "alpha 0.5", mergeOK(t, "wise_ft", j), refLinear([][]float32{z, f}, []float64{0.5, 0.5}, false))
	// WiSE-FT is linear of two models.
	j.Params = mp("alpha", 0.3)
	lin := &Job{Tensor: "w", Models: [][]float32{z, f}, Params: mp("normalize", false),
		ModelParams: []Params{mp("weight", 0.7), mp("weight", 0.3)}}
	assertClose(t, "wise_ft vs linear", mergeOK(t, "wise_ft", j), mergeOK(t, "linear", lin), 1e-7, 0)
}

func TestWiseFTAlphaList(t *testing.T) {
	m := method(t, "wise_ft")
	ps, err := m.Expand(Params{"alpha": []any{0.0, 0.5, 1.0}})
	if err != nil || len(ps) != 3 || ps[1]["alpha"] != 0.5 {
		t.Fatalf("Expand: %v %v", ps, err)
	}
	z, f := f32(0, 2), f32(2, 0)
	want := [][]float32{z, f32(1, 1), f}
	for i, p := range ps {
		assertEqual(t, "expanded", mergeOK(t, "wise_ft", &Job{Tensor: "w", Models: [][]float32{z, f}, Params: p}), want[i])
	}
	if ps, err := m.Expand(Params{"alpha": 0.2}); err != nil || len(ps) != 1 {
		t.Errorf("scalar Expand: %v %v", ps, err)
	}
	if _, err := m.Expand(Params{"alpha": []any{0.2, 7.0}}); err == nil {
		t.Error("alpha 7 accepted by Expand")
	}
	if _, err := m.Expand(Params{"alpha": []any{}}); err == nil {
		t.Error("empty list accepted")
	}
	// An unexpanded list is an error, not a silent gradient.
	mergeErr(t, "wise_ft", &Job{Tensor: "w", Models: [][]float32{z, f}, Params: Params{"alpha": []any{0.1, 0.2}}}, "Expand")
}

// twoPassLinear is the linear merge as Ladle computed it before the fused kernels: a
// float64 accumulator of the products, in model order, then a division by the sum.
func twoPassLinear(models [][]float32, ws []float64, normalize bool) []float32 {
	acc := make([]float64, len(models[0]))
	weightedSum(acc, models, ws, 0, len(acc))
	sum := 0.0
	for _, w := range ws {
		sum += w
	}
	out := make([]float32, len(acc))
	for c, a := range acc {
		if normalize {
			a /= sum
		}
		out[c] = float32(a)
	}
	return out
}

// The fused kernels (1 to 4 models, unit weights, a power-of-two sum taken as a
// multiplication) give the very bits of the two-pass reference, for any worker count.
func TestLinearFusedKernelsAreBitExact(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	const n = 3*chunkLen + 17
	weightSets := [][]float64{{1, 1, 1, 1, 1, 1}, {0.5, 1.5, 1, 1, 0.25, 0.75}, {0.1, 0.3, 0.7, 0.2, 0.9, 0.4}, {3, -1, 2, 0.5, -0.25, 1e-3}}
	for nm := 1; nm <= 6; nm++ {
		models := make([][]float32, nm)
		for i := range models {
			models[i] = randT(r, n)
		}
		models[0][5] = float32(math.Copysign(0, -1)) // signed zeros and subnormals too
		models[0][6] = 1e-45
		for _, ws := range weightSets {
			ws = ws[:nm]
			var mps []Params
			for _, w := range ws {
				mps = append(mps, mp("weight", w))
			}
			for _, norm := range []bool{true, false} {
				want := twoPassLinear(models, ws, norm)
				for _, workers := range []int{1, 3} {
					j := &Job{Tensor: "x", Models: models, ModelParams: mps, Params: mp("normalize", norm), Workers: workers}
					got := mergeOK(t, "linear", j)
					for c := range want {
						if math.Float32bits(got[c]) != math.Float32bits(want[c]) {
							t.Fatalf("%d models, weights %v, normalize %v, %d workers: element %d is %g, want %g", nm, ws, norm, workers, c, got[c], want[c])
						}
					}
				}
			}
		}
	}
}

// exactReciprocal accepts powers of two whose reciprocal is normal (where a/sum ==
// a*(1/sum) for every a), and nothing else.
func TestExactReciprocal(t *testing.T) {
	for _, c := range []struct {
		sum  float64
		want bool
	}{{1, true}, {2, true}, {4, true}, {0.25, true}, {-8, true}, {3, false}, {0.3, false}, {0x1p-1030, false}, {0x1p1022, true}, {0x1p1023, false}, {math.Inf(1), false}} {
		if got := exactReciprocal(c.sum, 1/c.sum); got != c.want {
			t.Errorf("exactReciprocal(%g) = %v, want %v", c.sum, got, c.want)
		}
	}
}

// The check for NaN and infinity reports the first bad element, whether the method
// scanned its output itself (linear) or Merge scans it, on any worker count.
func TestFirstNonFiniteIsTheFirst(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	n := 5*65536 + 3
	x := randT(r, n)
	bad := []int{4*65536 + 9, 2*65536 + 1, 70000}
	for _, i := range bad {
		x[i] = float32(math.Inf(1))
	}
	for _, workers := range []int{1, 2, 5} {
		if got := firstNonFinite(x, workers); got != 70000 {
			t.Errorf("%d workers: first non-finite at %d, want 70000", workers, got)
		}
	}
	y := randT(r, n)
	for _, workers := range []int{1, 4} {
		j := &Job{Tensor: "x", Models: [][]float32{x, y}, Workers: workers}
		mergeErr(t, "linear", j, "element 70000")
	}
}

// nonFiniteIndex finds a NaN or an infinity wherever it is, the first of several.
func TestNonFiniteIndexEveryPosition(t *testing.T) {
	for n := 0; n < 13; n++ {
		for bad := -1; bad < n; bad++ {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(i) - 3.5
			}
			want := -1
			if bad >= 0 {
				x[bad] = float32(math.NaN())
				if bad+2 < n {
					x[bad+2] = float32(math.Inf(-1))
				}
				want = bad
			}
			if got := nonFiniteIndex(x); got != want {
				t.Errorf("n %d, bad %d: got %d", n, bad, got)
			}
		}
	}
}
