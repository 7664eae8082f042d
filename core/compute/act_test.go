package compute

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// exactAct is act in float64 without cancellation: gelu as x·½·erfc(−x/√2).
func exactAct(act Act, x float64) float64 {
	switch act {
	case GELU:
		return x * 0.5 * math.Erfc(-x/math.Sqrt2)
	case Tanh:
		return math.Tanh(x)
	case Sigmoid:
		if x >= 0 {
			return 1 / (1 + math.Exp(-x))
		}
		e := math.Exp(x)
		return e / (1 + e)
	}
	return x
}

// actScale is what an activation's error is measured against: gelu's against |x|
// (the input's scale, which the next layer's sums carry; gelu(x) is tiny for negative
// x while its error there stays far below x's ulp), tanh's and sigmoid's against the
// value itself.
func actScale(act Act, x, exact float64) float64 {
	if act == GELU {
		return math.Abs(x)
	}
	return math.Abs(exact)
}

// TestActF32 bounds the kernels' activations against the exact values on a dense grid
// over [−30, 30] and random inputs, with correctly rounded exp and division and with
// WGSL's worst (exp off by 3 + 2·|x| ulps, division by 2.5, subnormals flushed): the
// error in float32 ulps of the scale (actScale), within 3 to 3.5 ulps with IEEE
// arithmetic and 5 to 14 with WGSL's worst, plus the 4·|x| ulps WGSL's exp allows
// sigmoid for negative x (on values below e^x, far below any sum's rounding).
func TestActF32(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	xs := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 0.55, -0.55, 1.4142135, -1.4142135, 13.435029, -13.435029, 20, -20, 44, -44, 80, -80, 1e4, -1e4}
	for x := -30.0; x <= 30; x += 1e-4 {
		xs = append(xs, float32(x))
	}
	for range 100000 {
		xs = append(xs, float32(r.NormFloat64()*3))
	}
	// the bounds, in ulps of the scale: with IEEE arithmetic, and with WGSL's worst
	ieee := map[Act]float64{GELU: 3, Tanh: 3.5, Sigmoid: 3.5}
	wgsl := map[Act]float64{GELU: 5, Tanh: 8, Sigmoid: 14}
	for _, act := range []Act{GELU, Tanh, Sigmoid} {
		for _, m := range []struct {
			name string
			f    F32Math
			wgsl bool
		}{{"IEEE", IEEEF32, false}, {"WGSL up", wgslWorst(1), true}, {"WGSL down", wgslWorst(-1), true}} {
			worst, at := 0.0, float32(0)
			for _, x := range xs {
				exact := exactAct(act, float64(x))
				got := ActF32(act, x, m.f)
				if math.IsNaN(float64(got)) || math.IsInf(float64(got), 0) {
					t.Fatalf("%s %s(%v) = %v", m.name, act, x, got)
				}
				allowed := ieee[act]
				if m.wgsl {
					allowed = wgsl[act]
					if act == Sigmoid && x < 0 { // e^x to (3 + 2·|x|)·2⁻²³ relative
						allowed += 4 * math.Abs(float64(x))
					}
				}
				// below the smallest normal a GPU flushes to zero
				e := math.Abs(float64(got) - exact)
				if e <= 0x1p-126 {
					continue
				}
				ulps := e / (actScale(act, float64(x), exact) * 0x1p-24)
				if ulps > allowed {
					t.Fatalf("%s %s(%v) = %v, exactly %v: %.1f ulps of the scale (bound %.1f)", m.name, act, x, got, exact, ulps, allowed)
				}
				if ulps > worst && (act != Sigmoid || x >= 0 || !m.wgsl) {
					worst, at = ulps, x
				}
			}
			t.Logf("%s %s: worst %.2f ulps of the scale at %v", m.name, act, worst, at)
		}
	}
}

// TestActRefNearExact: the CPU reference (package nn's arithmetic) against the exact
// values, under the same measure, so that the GPU's bound above is a bound against the
// CPU too (gelu's ½·x·(1 + erf(x/√2)) cancels for negative x, in float64, far below
// float32's ulp of x).
func TestActRefNearExact(t *testing.T) {
	for _, act := range []Act{GELU, Tanh, Sigmoid} {
		worst := 0.0
		for x := -30.0; x <= 30; x += 1e-3 {
			f := float32(x)
			exact := exactAct(act, float64(f))
			e := math.Abs(float64(ActRef(act, f)) - exact)
			if e <= 0x1p-149 {
				continue
			}
			worst = max(worst, e/(actScale(act, float64(f), exact)*0x1p-24))
		}
		if worst > 1.01 {
			t.Errorf("%s: the CPU reference is %.2f ulps of the scale from the exact values", act, worst)
		}
	}
}

// TestActWGSLWritesTheTables: the shader text holds every coefficient of ActF32's
// tables, each as a literal that rounds to the same float32, and every Act's case.
func TestActWGSLWritesTheTables(t *testing.T) {
	src := ActWGSL()
	for name, table := range map[string][]float32{"tanh": tanhP, "erf": erfQ, "erfc": erfcS} {
		for _, c := range table {
			lit := wgslFloat(c)
			if !strings.Contains(src, lit) {
				t.Errorf("%s coefficient %v (%s) is not in the WGSL", name, c, lit)
			}
			v, err := strconv.ParseFloat(strings.Trim(lit, "()"), 32)
			if err != nil || float32(v) != c {
				t.Errorf("literal %s reads back as %v, not %v", lit, v, c)
			}
		}
	}
	for _, a := range []Act{GELU, Tanh, Sigmoid} {
		if !strings.Contains(src, "case "+strconv.Itoa(int(a))+"u:") {
			t.Errorf("no case for %s in the WGSL", a)
		}
	}
	if got := wgslFloat(2); got != "2.0" {
		t.Errorf("wgslFloat(2) = %q: WGSL reads an integer", got)
	}
}
