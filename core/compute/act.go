package compute

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Act is an element-wise activation a backend may apply in a layer's pass besides
// relu (which the Forwarder's relu flag covers, exactly).
type Act int

const (
	GELU    Act = iota + 1 // x·Φ(x), Φ the standard normal CDF (PyTorch's exact form)
	Tanh                   // tanh(x)
	Sigmoid                // 1/(1 + e⁻ˣ)
)

func (a Act) String() string {
	switch a {
	case GELU:
		return "gelu"
	case Tanh:
		return "tanh"
	case Sigmoid:
		return "sigmoid"
	}
	return fmt.Sprintf("Act(%d)", int(a))
}

// Activator is a Forwarder that also applies gelu, tanh or sigmoid in a linear or
// convolution layer's pass, after the bias, as ActF32 computes them: within a few
// float32 ulps of the exact values, not the CPU's bits (its tests bound the error
// with WGSL's exp and division erring as far as the spec allows); evaluation holds
// the result to Agree's rule.
type Activator interface {
	LinearAct(y, x, w, bias []float32, n, in, out int, act Act) bool
	Conv2DAct(y, x, w, bias []float32, n int, g ConvGeom, act Act) bool
}

// ActRef is act on the CPU as package nn computes it: in float64, rounded once.
func ActRef(act Act, v float32) float32 {
	x := float64(v)
	switch act {
	case GELU:
		return float32(0.5 * x * (1 + math.Erf(x/math.Sqrt2)))
	case Tanh:
		return float32(math.Tanh(x))
	case Sigmoid:
		if x >= 0 {
			return float32(1 / (1 + math.Exp(-x)))
		}
		e := math.Exp(x)
		return float32(e / (1 + e))
	}
	return v
}

// The polynomials of ActF32, fitted for this purpose (weighted least squares with
// Lawson's iterations toward minimax, coefficients rounded to float32: `go run
// ./build/actfit` refits and prints them), lowest degree first.
// ActWGSL writes them into the shaders, so the two cannot differ.
var (
	// tanh(a) = a + a³·P(a²) for 0 ≤ a < 0.55: 7e-8 relative in float32 Horner.
	tanhP = []float32{-0.33333316, 0.13332586, -0.05385231, 0.02107168, -0.0062742415}
	// erf(z) = z·Q(z²) for 0 ≤ z < 1: 1.5e-7 relative.
	erfQ = []float32{1.1283791, -0.37612626, 0.112835854, -0.026853815, 0.0051883324, -0.00080102327, 7.853981e-05}
	// erfc(z) = exp(−z² + S(t)), t = 1/(1 + z/2) − 0.42, for 1 ≤ z ≤ 9.5: S within
	// 1.2e-6 absolute, so erfc within 1.2e-6 relative (beyond 9.5 erfc is below 2⁻¹³⁰).
	erfcS = []float32{-1.6455204, 3.689145, -2.5629032, 4.1813855, -8.220743, 16.336561, -34.127666, 32.813168, -24.966057, 671.50287, -1727.3636}
)

const (
	tanhSmall = 0.55 // below: the polynomial; above: 1 − 2/(e²ᵃ + 1), no cancellation
	tanhBig   = 20   // tanh(20) is 1 in float32; e⁴⁰ stays finite
	erfSmall  = 1    // below: erf's polynomial; above: erfc's exponential form
	erfcBig   = 9.5  // erfc beyond is 0 in float32
	erfcShift = 0.42
	invSqrt2  = float32(1 / math.Sqrt2)
)

// horner evaluates c (lowest degree first) at u, each product rounded before its sum
// (a GPU may fuse them, which only helps).
func horner(c []float32, u float32) float32 {
	p := c[len(c)-1]
	for j := len(c) - 2; j >= 0; j-- {
		p = float32(p*u) + c[j]
	}
	return p
}

// ActF32 is act as the WebGPU kernels compute it (ActWGSL is this function in WGSL),
// in float32 with f's exp and division:
//
//	tanh:    a = |x|; a + a³·P(a²) below 0.55, else 1 − 2/(e^{2·min(a, 20)} + 1); the sign of x
//	sigmoid: 1/(1 + e⁻ˣ) for x ≥ 0, else eˣ/(1 + eˣ) (no overflow, no cancellation)
//	gelu:    x·Φ(x), Φ(x) = ½ ± ½·erf(z) (z = |x|/√2 < 1) or 1 − ½·erfc(z) and ½·erfc(z)
//	         for x ≥ 0 and x < 0 (z ≥ 1), so that a tiny Φ(x) for negative x is not the
//	         difference of two numbers near 1, as the CPU's ½·x·(1 + erf(x/√2)) is.
func ActF32(act Act, x float32, f F32Math) float32 {
	switch act {
	case Tanh:
		a := float32(math.Abs(float64(x)))
		var r float32
		if a < tanhSmall {
			u := a * a
			r = a + float32(float32(a*u)*horner(tanhP, u))
		} else {
			r = 1 - f.Div(2, f.Exp(2*min(a, tanhBig))+1)
		}
		if x < 0 {
			return -r
		}
		return r
	case Sigmoid:
		if x >= 0 {
			return f.Div(1, 1+f.Exp(-x))
		}
		e := f.Exp(x)
		return f.Div(e, 1+e)
	case GELU:
		z := float32(math.Abs(float64(x))) * invSqrt2
		var phi float32
		switch {
		case z < erfSmall:
			e := z * horner(erfQ, z*z)
			if x >= 0 {
				phi = 0.5 + float32(0.5*e)
			} else {
				phi = 0.5 - float32(0.5*e)
			}
		default:
			var c float32
			if z <= erfcBig {
				t := f.Div(1, 1+float32(0.5*z)) - erfcShift
				c = f.Exp(-float32(z*z) + horner(erfcS, t))
			}
			if x >= 0 {
				phi = 1 - float32(0.5*c)
			} else {
				phi = 0.5 * c
			}
		}
		return x * phi
	}
	return x
}

// ActWGSL returns the WGSL of ActF32: fn act(v: f32, kind: u32) -> f32, kind 1 gelu,
// 2 tanh, 3 sigmoid (Act's values), other kinds the identity. The shaders prepend it.
func ActWGSL() string {
	var b strings.Builder
	fmt.Fprintf(&b, `// Activations besides relu, in float32: compute.ActF32 is this code in Go (the WGSL is
// written from its tables), and its tests bound the error.
fn act_tanh(x: f32) -> f32 {
  let a = abs(x);
  var r: f32;
  if (a < %s) {
    let u = a * a;
    r = a + (a * u) * %s;
  } else {
    r = 1.0 - 2.0 / (exp(2.0 * min(a, %s)) + 1.0);
  }
  return select(r, -r, x < 0.0);
}
fn act_sigmoid(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
fn act_gelu(x: f32) -> f32 {
  let z = abs(x) * %s;
  var phi: f32;
  if (z < %s) {
    let u = z * z;
    let e = z * %s;
    phi = select(0.5 - 0.5 * e, 0.5 + 0.5 * e, x >= 0.0);
  } else {
    var c = 0.0;
    if (z <= %s) {
      let t = 1.0 / (1.0 + 0.5 * z) - %s;
      c = exp(-(z * z) + %s);
    }
    phi = select(0.5 * c, 1.0 - 0.5 * c, x >= 0.0);
  }
  return x * phi;
}
fn act(v: f32, kind: u32) -> f32 {
  switch kind {
    case %du: { return act_gelu(v); }
    case %du: { return act_tanh(v); }
    case %du: { return act_sigmoid(v); }
    default: { return v; }
  }
}
`, wgslFloat(tanhSmall), wgslHorner(tanhP, "u"), wgslFloat(tanhBig),
		wgslFloat(invSqrt2), wgslFloat(erfSmall), wgslHorner(erfQ, "u"),
		wgslFloat(erfcBig), wgslFloat(erfcShift), wgslHorner(erfcS, "t"),
		GELU, Tanh, Sigmoid)
	return b.String()
}

// wgslHorner writes c's polynomial in u as nested products, highest degree innermost,
// in the order horner rounds them.
func wgslHorner(c []float32, u string) string {
	s := wgslFloat(c[len(c)-1])
	for j := len(c) - 2; j >= 0; j-- {
		s = fmt.Sprintf("(%s * %s + %s)", s, u, wgslFloat(c[j]))
	}
	return s
}

// wgslFloat writes v as a WGSL float literal that rounds to the same float32.
func wgslFloat(v float32) string {
	s := strconv.FormatFloat(float64(v), 'g', -1, 32)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	if v < 0 {
		return "(" + s + ")"
	}
	return s
}
