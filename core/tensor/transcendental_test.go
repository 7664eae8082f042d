package tensor

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

// Accuracy of the portable transcendentals (Sin, Cos, Acos, Erf, Tanh, Exp) against
// math/big references, over dense grids, random samples and the hard cases, and
// their special values against package math exactly.

type accuracyCase struct {
	name  string
	f     func(float64) float64
	ref   func(float64) *big.Float
	xs    []float64
	limit float64 // ulps
}

// grid is n points evenly spread over [lo, hi].
func grid(lo, hi float64, n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = lo + float64((hi-lo)*float64(i))/float64(n-1) // rounded: the same arguments on every target
	}
	return xs
}

// randoms are n uniform points on [lo, hi] and n log-uniform magnitudes in
// [2^elo, 2^ehi] of either sign.
func randoms(seed uint64, lo, hi float64, elo, ehi, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	xs := make([]float64, 0, 2*n)
	for range n {
		xs = append(xs, lo+float64((hi-lo)*r.Float64()))
		v := math.Ldexp(1+r.Float64(), elo+r.IntN(ehi-elo))
		if r.IntN(2) == 0 {
			v = -v
		}
		xs = append(xs, v)
	}
	return xs
}

// neighbours are the float64 values within k ulps of each x.
func neighbours(k int, xs ...float64) []float64 {
	var out []float64
	for _, x := range xs {
		lo, hi := x, x
		out = append(out, x)
		for range k {
			lo, hi = math.Nextafter(lo, math.Inf(-1)), math.Nextafter(hi, math.Inf(1))
			out = append(out, lo, hi)
		}
	}
	return out
}

// piMultiples are the float64 values nearest k·π/2 for k up to 2²⁰, where sin or cos
// is tiny and the reduction cancels most: the hard cases of the medium reduction.
func piMultiples() []float64 {
	var xs []float64
	for _, k := range []float64{1, 2, 3, 4, 5, 6, 7, 8, 100, 1000, 12345, 98765, 1 << 19, 1<<20 - 1} {
		xs = append(xs, neighbours(2, float64(k*math.Pi)/2)...)
	}
	// For the big reduction: the float64 closest to a multiple of π/2 of all,
	// 6381956970095103·2⁷⁹⁷ (Kahan and McDonald), and other huge values.
	xs = append(xs, 6381956970095103*0x1p797, 1.0e22, 0x1p1023, math.MaxFloat64)
	// The kernels' edge and the medium reduction's.
	return append(xs, neighbours(3, math.Pi/4, 0x1p20*math.Pi/2, 0x1p-27)...)
}

func (c accuracyCase) run(t *testing.T) {
	worst, at := 0.0, 0.0
	for _, x := range c.xs {
		got := c.f(x)
		e := ulpErr(got, c.ref(x))
		if e > worst || math.IsNaN(e) {
			worst, at = e, x
		}
	}
	t.Logf("%s: worst %.3f ulp at %v over %d arguments", c.name, worst, at, len(c.xs))
	if !(worst < c.limit) {
		t.Errorf("%s: %.3f ulp at %v (%v), want < %v", c.name, worst, at, c.f(at), c.limit)
	}
}

// transcendentals lists each function with its reference and its arguments: n grid
// points and 2n random ones per function, plus the hard cases. The golden test hashes
// the same arguments' results.
func transcendentals(n int) []accuracyCase {
	sin := func(x float64) *big.Float { s, _ := bigSinCos(x); return s }
	cos := func(x float64) *big.Float { _, c := bigSinCos(x); return c }
	trigXs := append(append(append(grid(0, math.Pi, n), grid(-20, 20, n)...),
		randoms(1, -1e6, 1e6, -40, 60, n)...), piMultiples()...)
	acosXs := append(append(append(grid(-1, 1, n), randoms(2, -1, 1, -60, -1, n)...),
		neighbours(3, 0.5, -0.5, 1-0x1p-52, -1+0x1p-53, 0x1p-57)...), 1-0x1p-53, -1+0x1p-53)
	acosXs = slices.DeleteFunc(acosXs, func(x float64) bool { return math.Abs(x) > 1 })
	erfXs := append(append(grid(-7, 7, n), randoms(3, -6, 6, -40, 3, n)...),
		neighbours(2, 0x1p-28, 0.84375, 1.25, 1/0.35, 6, -0.84375, -1.25)...)
	tanhXs := append(append(append(grid(-25, 25, n), grid(0.6, 3, n)...), randoms(4, -3, 3, -60, 5, n)...),
		neighbours(2, 0.625, -0.625, 1, -1, 22, 44, 0x1p-55)...)
	expXs := append(append(grid(-745, 709.78, n), randoms(5, -30, 30, -40, 9, n)...),
		neighbours(2, 0x1p-28, 709.78, -745.13)...)
	return []accuracyCase{
		{"Sin", Sin, sin, trigXs, 1},
		{"Cos", Cos, cos, trigXs, 1},
		{"Acos", Acos, bigAcos, acosXs, 1},
		{"Erf", Erf, bigErf, erfXs, 1},
		{"Tanh", Tanh, bigTanh, tanhXs, 1},
		{"Exp", Exp, func(x float64) *big.Float { return bigExp(bf(x)) }, expXs, 1},
	}
}

// TestTranscendentalAccuracy measures each function's worst error in ulps against
// its math/big reference: below 1 ulp (faithful rounding) for all but Tanh.
func TestTranscendentalAccuracy(t *testing.T) {
	n := 4000
	if testing.Short() {
		n = 500
	}
	for _, c := range transcendentals(n) {
		t.Run(c.name, c.run)
	}
}

// TestMachinPi checks the π of the big reductions against its first 200 digits.
func TestMachinPi(t *testing.T) {
	const digits = "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706798214808651328230664709384460955058223172535940812848111745028410270193852110555964462294895493038196"
	want, _, err := big.ParseFloat(digits, 10, 700, big.ToNearestEven)
	if err != nil {
		t.Fatal(err)
	}
	d := new(big.Float).SetPrec(700).Sub(bigPi(), want)
	if d.Sign() != 0 && d.MantExp(nil) > -655 { // 200 digits ≈ 2⁻⁶⁶⁰
		t.Fatalf("machinPi differs from π's digits by %g", d)
	}
}

// TestRemPio2Constants checks the parts of π/2 that the medium reduction uses.
func TestRemPio2Constants(t *testing.T) {
	halfPi := new(big.Float).SetPrec(400).Quo(bigPi(), big.NewFloat(2))
	sum := new(big.Float).SetPrec(400)
	for i, part := range [][2]float64{
		{1.57079632673412561417e+00, 6.07710050650619224932e-11},
		{6.07710050630396597660e-11, 2.02226624879595063154e-21},
		{2.02226624871116645580e-21, 8.47842766036889956997e-32},
	} {
		if bits := 53 - trailingZeros(part[0]); bits > 33 {
			t.Errorf("part %d has %d significant bits, want ≤ 33", i+1, bits)
		}
		sum.Add(sum, bf(part[0]))
		rest := new(big.Float).SetPrec(400).Sub(halfPi, sum)
		if e := ulpErr(part[1], rest); e > 0.5 {
			t.Errorf("tail %d is %.2f ulp from π/2 minus the parts", i+1, e)
		}
	}
}

func trailingZeros(x float64) int {
	m := math.Float64bits(x)&(1<<52-1) | 1<<52
	n := 0
	for m&1 == 0 {
		m >>= 1
		n++
	}
	return n
}

// TestRemPio2Big holds the medium and the big reduction to the same result where
// both apply, and the big one to the reference at huge arguments (in the accuracy
// test's trigonometric arguments).
func TestRemPio2Big(t *testing.T) {
	for _, x := range append(grid(1, 1e6, 300), piMultiples()[:40]...) {
		n1, h1, l1 := remPio2(x)
		n2, h2, l2 := remPio2Big(x)
		if n1&3 != n2&3 || h1 != h2 || math.Abs(l1-l2) > 0x1p-70*math.Abs(h1) {
			t.Errorf("%v: medium (%d, %v, %v), big (%d, %v, %v)", x, n1&3, h1, l1, n2&3, h2, l2)
		}
	}
}

// TestTranscendentalSpecialValues checks signed zeros, infinities and NaN exactly
// against package math, and values package math gives exactly.
func TestTranscendentalSpecialValues(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	negZero := math.Copysign(0, -1)
	same := func(a, b float64) bool {
		return math.Float64bits(a) == math.Float64bits(b) || (math.IsNaN(a) && math.IsNaN(b))
	}
	for _, c := range []struct {
		name   string
		f, ref func(float64) float64
		xs     []float64
	}{
		{"Sin", Sin, math.Sin, []float64{0, negZero, inf, -inf, nan, 0x1p-30, -0x1p-30, 0x1p-1074}},
		{"Cos", Cos, math.Cos, []float64{0, negZero, inf, -inf, nan, 0x1p-30}},
		{"Acos", Acos, math.Acos, []float64{1, -1, 0, negZero, 1.5, -1.5, inf, -inf, nan, 0x1p-60}},
		{"Erf", Erf, math.Erf, []float64{0, negZero, inf, -inf, nan, 6, -6, 10, -1e300, 0x1p-1074, 1e-310}},
		{"Tanh", Tanh, math.Tanh, []float64{0, negZero, inf, -inf, nan, 45, -45, 1e300, 0x1p-1074}},
		{"Exp", Exp, math.Exp, []float64{0, negZero, inf, -inf, nan, 710, -746, 1}},
	} {
		for _, x := range c.xs {
			if got, want := c.f(x), c.ref(x); !same(got, want) {
				t.Errorf("%s(%v) = %v, package math %v", c.name, x, got, want)
			}
		}
	}
	// sin(π rounded) is π's rounding error, 1.2246467991473532e-16 rounded (package
	// math's Cody-Waite reduction gives 1.2246467991473515e-16).
	if Acos(-1) != math.Pi || Sin(math.Pi) != 1.2246467991473532e-16 {
		t.Errorf("Acos(-1) = %v, Sin(π) = %v", Acos(-1), Sin(math.Pi))
	}
}

// TestTranscendentalAgainstMath compares with package math on a grid: within 2 ulps,
// each being within about 1 ulp of the truth (package math's Acos, through Asin and
// a square root of 1 − x², is less accurate near ±1: the grid stops at ±0.5).
func TestTranscendentalAgainstMath(t *testing.T) {
	ulps := func(a, b float64) float64 {
		if a == b {
			return 0
		}
		u := math.Abs(math.Nextafter(b, math.Inf(1)) - b)
		return math.Abs(a-b) / u
	}
	for _, c := range []struct {
		name   string
		f, ref func(float64) float64
		xs     []float64
		limit  float64
	}{
		{"Sin", Sin, math.Sin, grid(-10, 10, 10001), 2},
		{"Cos", Cos, math.Cos, grid(-10, 10, 10001), 2},
		{"Acos", Acos, math.Acos, grid(-0.5, 0.5, 10001), 2},
		{"Erf", Erf, math.Erf, grid(-7, 7, 10001), 2},
		{"Tanh", Tanh, math.Tanh, grid(-25, 25, 10001), 2},
	} {
		worst := 0.0
		for _, x := range c.xs {
			worst = max(worst, ulps(c.f(x), c.ref(x)))
		}
		t.Logf("%s: %.2f ulp at most from package math", c.name, worst)
		if worst > c.limit {
			t.Errorf("%s: %.2f ulp from package math, want ≤ %v", c.name, worst, c.limit)
		}
	}
}

// BenchmarkTranscendentals compares each portable function with package math's on
// the arguments slerp and the activations meet.
func BenchmarkTranscendentals(b *testing.B) {
	for _, c := range []struct {
		name             string
		portable, native func(float64) float64
		xs               []float64
	}{
		{"Sin", Sin, math.Sin, grid(0, math.Pi, 1024)},
		{"Cos", Cos, math.Cos, grid(0, math.Pi, 1024)},
		{"Acos", Acos, math.Acos, grid(-1, 1, 1024)},
		{"Erf", Erf, math.Erf, grid(-6, 6, 1024)},
		{"Tanh", Tanh, math.Tanh, grid(-6, 6, 1024)},
		{"Exp", Exp, math.Exp, grid(-20, 20, 1024)},
	} {
		for _, v := range []struct {
			kind string
			f    func(float64) float64
		}{{"tensor", c.portable}, {"math", c.native}} {
			b.Run(c.name+"/"+v.kind, func(b *testing.B) {
				s := 0.0
				for i := 0; b.Loop(); i++ {
					s += v.f(c.xs[i&1023])
				}
				_ = s
			})
		}
	}
}
