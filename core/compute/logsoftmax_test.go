package compute

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// wgslWorst is F32Math erring as far as WGSL allows, in one direction (up when
// sign is 1, down when −1): exp by 3 + 2·|x| ulps, log by 3 ulps, division by 2.5
// ulps, and results below 2⁻¹²⁶ flushed to zero, as SwiftShader does.
func wgslWorst(sign float64) F32Math {
	ulp := func(v float64) float64 { // one float32 ulp of v
		if v == 0 {
			return 0
		}
		_, e := math.Frexp(v)
		return math.Ldexp(1, e-24)
	}
	round := func(v float64) float32 {
		if math.Abs(v) < 0x1p-126 {
			return 0
		}
		return float32(v)
	}
	return F32Math{
		Exp: func(x float32) float32 {
			v := math.Exp(float64(x))
			return round(v + sign*(3+2*math.Abs(float64(x)))*ulp(v))
		},
		Log: func(x float32) float32 {
			v := math.Log(float64(x))
			return round(v + sign*3*ulp(v))
		},
		Div: func(a, b float32) float32 {
			v := float64(a) / float64(b)
			return round(v + sign*2.5*ulp(v))
		},
	}
}

// TestLog1pF32 checks the series and the log against math.Log1p from 10⁻³⁷ (results
// that are normal float32 numbers: a GPU flushes the others) to 10⁴, with correctly
// rounded operations (a few ulps) and with WGSL's worst (its bound).
func TestLog1pF32(t *testing.T) {
	if got := Log1pF32(0, IEEEF32); got != 0 {
		t.Fatalf("log1p(0) = %v", got)
	}
	for _, c := range []struct {
		name string
		f    F32Math
		tol  float64
	}{{"IEEE", IEEEF32, 4e-7}, {"WGSL up", wgslWorst(1), 1.2e-6}, {"WGSL down", wgslWorst(-1), 1.2e-6}} {
		worst, at := 0.0, 0.0
		for e := -37.0; e <= 4; e += 0.001 {
			x := float32(math.Pow(10, e))
			want := math.Log1p(float64(x))
			rel := math.Abs(float64(Log1pF32(x, c.f))-want) / want
			if rel > worst {
				worst, at = rel, float64(x)
			}
		}
		if worst > c.tol {
			t.Errorf("%s: log1p's relative error reaches %.3g at t = %g (bound %.3g)", c.name, worst, at, c.tol)
		}
		t.Logf("%s: worst relative error %.3g at t = %g", c.name, worst, at)
	}
}

// TestLogSoftmaxF32WithinAgree runs the kernel's algorithm with WGSL's worst exp, log
// and division on logits of every kind a classifier gives (confident, near-ties,
// all equal, a thousand classes, gaps up to 100) against the exact values: every
// sample's loss −v[label] within 1e-5 relative (so any mean of them is), or 1e-20
// absolute (a loss below e⁻⁴² ≈ 6e-19, where the float32 rounding of a gap of 42
// and WGSL's 3 + 2·42 ulps of exp reach 1e-5 of it), and the
// first largest output where the top two are apart. The CPU's own float64
// log_softmax (LogSoftmaxRef) is exact to within float32 rounding plus two float64
// ulps of the largest logit (its log-sum-exp is rounded at that scale), which the test
// checks too: against the CPU, then, a kernel's loss agrees to 1e-5 relative or to
// that last term (1e-14 absolute for logits of 30).
func TestLogSoftmaxF32WithinAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 1))
	type sample struct {
		name string
		v    []float32
	}
	var samples []sample
	add := func(name string, v []float32) { samples = append(samples, sample{name, v}) }
	for _, classes := range []int{2, 10, 1000} {
		for _, spread := range []float64{1e-3, 0.1, 1, 5, 30} {
			for range 50 {
				v := make([]float32, classes)
				for c := range v {
					v[c] = float32(r.NormFloat64() * spread)
				}
				add(fmt.Sprintf("%d classes, spread %g", classes, spread), v)
			}
		}
		for _, gap := range []float32{1e-4, 0.01, 1, 8, 16, 30} { // one confident class
			for _, level := range []float32{-50, 0, 12, 300} {
				v := make([]float32, classes)
				for c := range v {
					v[c] = level + float32(r.Float64())*0.5
				}
				v[r.IntN(classes)] = level + 0.5 + gap
				add(fmt.Sprintf("%d classes, gap %g at %g", classes, gap, level), v)
			}
		}
		add(fmt.Sprintf("%d equal", classes), make([]float32, classes))
	}
	for _, f := range []struct {
		name string
		m    F32Math
	}{{"IEEE", IEEEF32}, {"WGSL up", wgslWorst(1)}, {"WGSL down", wgslWorst(-1)}} {
		worst := 0.0
		for _, s := range samples {
			want := exactLogSoftmax(s.v)
			cpu := append([]float32(nil), s.v...)
			LogSoftmaxRef(cpu)
			got := append([]float32(nil), s.v...)
			LogSoftmaxF32(got, f.m)
			for c := range want {
				// The loss for label c is −want[c].
				rel := math.Abs(float64(got[c])-want[c]) / math.Abs(want[c])
				if math.Abs(want[c]) >= 1e-15 {
					worst = max(worst, rel)
				}
				if rel > 1e-5 && math.Abs(float64(got[c])-want[c]) > 1e-20 {
					t.Fatalf("%s, %s: output %d is %v, exactly %v (relative %.3g)", f.name, s.name, c, got[c], want[c], rel)
				}
				if d := math.Abs(float64(cpu[c]) - want[c]); d > 1e-7*math.Abs(want[c])+0x1p-51*maxAbs(s.v) {
					t.Fatalf("%s: the CPU's output %d is %v, exactly %v", s.name, c, cpu[c], want[c])
				}
			}
			best, second := top2(s.v)
			if s.v[best]-s.v[second] > 1e-6 {
				if gb, _ := top2(got); gb != best {
					t.Fatalf("%s, %s: the kernel's class %d, the reference's %d", f.name, s.name, gb, best)
				}
			}
		}
		t.Logf("%s: worst relative error of an output (a label's loss) %.3g over %d samples (losses of 1e-15 and more)", f.name, worst, len(samples))
	}
}

func maxAbs(v []float32) float64 {
	m := 1.0
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	return m
}

// exactLogSoftmax is log_softmax in float64 without cancellation (the same form as
// LogSoftmaxF32, with math.Log1p), exact to float64 rounding.
func exactLogSoftmax(v []float32) []float64 {
	m := 0
	for c, x := range v {
		if x > v[m] {
			m = c
		}
	}
	var t float64
	for c, x := range v {
		if c != m {
			t += math.Exp(float64(x) - float64(v[m]))
		}
	}
	l := math.Log1p(t)
	out := make([]float64, len(v))
	for c, x := range v {
		out[c] = (float64(x) - float64(v[m])) - l
	}
	return out
}

// TestLogSoftmaxF32AvoidsCancellation: a confident sample's loss, 1e-4 or so next to
// logits of 10, keeps its digits (the naive x − (max + log Σ) in float32 keeps none).
func TestLogSoftmaxF32AvoidsCancellation(t *testing.T) {
	v := []float32{10, 10 - 12, 10 - 9.5, 10 - 11}
	want := append([]float32(nil), v...)
	LogSoftmaxRef(want)
	got := append([]float32(nil), v...)
	LogSoftmaxF32(got, IEEEF32)
	if rel := math.Abs(float64(got[0]-want[0])) / math.Abs(float64(want[0])); rel > 1e-6 {
		t.Errorf("the confident class's log-probability %v, the reference %v (relative %.3g)", got[0], want[0], rel)
	}
	var sum float32
	for _, x := range v {
		sum += float32(math.Exp(float64(x - 10)))
	}
	naive := v[0] - (10 + float32(math.Log(float64(sum))))
	if rel := math.Abs(float64(naive-want[0])) / math.Abs(float64(want[0])); rel < 1e-3 {
		t.Errorf("the naive form is accurate here (%.3g): the test no longer shows the cancellation", rel)
	}
}
