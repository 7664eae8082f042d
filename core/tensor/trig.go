package tensor

import "math"

// Sin is sin x with the same bits on every target. Package math's Sin is pure Go
// (Cephes' polynomials after a Cody-Waite reduction), which the compiler fuses into
// FMA instructions on arm64 and on amd64 at GOAMD64=v3, so a native `ladle merge` with
// slerp could differ in the last bit from the page's; this one rounds every product
// explicitly (float64(x*y)), which forbids the fusion.
//
// Algorithm: fdlibm's. x is reduced to r = x − n·π/2, |r| ≤ π/4, carried as a
// double-double (remPio2), and sin or cos of r comes from fdlibm's kernels: degree-13
// and degree-14 polynomials whose error is below 2⁻⁵⁸ on [−π/4, π/4]. The result is
// within 1 ulp of sin x (the tests measure 0.72 ulp at worst against math/big) for
// every finite x: the reduction is exact enough for any argument (see remPio2), though
// beyond |x| = 2²⁰·π/2 it goes through math/big and takes microseconds.
//
// Special cases: Sin(±0) = ±0, Sin(±Inf) = NaN, Sin(NaN) = NaN.
func Sin(x float64) float64 {
	if x != x || math.IsInf(x, 0) {
		return math.NaN()
	}
	a := math.Abs(x)
	var s float64
	switch {
	case a < 0x1p-27: // |x³/6| is below half an ulp of x (and ±0 keeps its sign)
		return x
	case a <= math.Pi/4:
		s = sinKernel(a, 0)
	default:
		n, hi, lo := remPio2(a)
		switch n & 3 {
		case 0:
			s = sinKernel(hi, lo)
		case 1:
			s = cosKernel(hi, lo)
		case 2:
			s = -sinKernel(hi, lo)
		default:
			s = -cosKernel(hi, lo)
		}
	}
	if x < 0 {
		return -s
	}
	return s
}

// Cos is cos x with the same bits on every target, for the reasons and by the
// algorithm of Sin; within 1 ulp of cos x (0.71 ulp at worst measured against
// math/big).
//
// Special cases: Cos(±Inf) = NaN, Cos(NaN) = NaN.
func Cos(x float64) float64 {
	if x != x || math.IsInf(x, 0) {
		return math.NaN()
	}
	a := math.Abs(x)
	switch {
	case a < 0x1p-27: // x²/2 is below half an ulp of 1
		return 1
	case a <= math.Pi/4:
		return cosKernel(a, 0)
	}
	n, hi, lo := remPio2(a)
	switch n & 3 {
	case 0:
		return cosKernel(hi, lo)
	case 1:
		return -sinKernel(hi, lo)
	case 2:
		return -cosKernel(hi, lo)
	default:
		return sinKernel(hi, lo)
	}
}

// sinKernel is sin(x + y) for |x| ≤ π/4 (about) and |y| below half an ulp of x
// (fdlibm's __kernel_sin): x + x³·S(x²), with S a degree-5 minimax polynomial, the
// tail y entering through its first-order term.
func sinKernel(x, y float64) float64 {
	const (
		s1 = -1.66666666666666324348e-01
		s2 = 8.33333333332248946124e-03
		s3 = -1.98412698298579493134e-04
		s4 = 2.75573137070700676789e-06
		s5 = -2.50507602534068634195e-08
		s6 = 1.58969099521155010221e-10
	)
	z := float64(x * x)
	v := float64(z * x)
	r := s5 + float64(z*s6)
	r = s4 + float64(z*r)
	r = s3 + float64(z*r)
	r = s2 + float64(z*r)
	if y == 0 {
		return x + float64(v*float64(s1+float64(z*r)))
	}
	// x − ((z·(y/2 − v·r) − y) − v·s1)
	inner := float64(0.5*y) - float64(v*r)
	return x - ((float64(z*inner) - y) - float64(v*s1))
}

// cosKernel is cos(x + y) for |x| ≤ π/4 (about) and |y| below half an ulp of x
// (FreeBSD's __kernel_cos): 1 − x²/2 + x⁴·C(x²), with C a degree-5 minimax
// polynomial, 1 − x²/2 summed with its rounding error recovered.
func cosKernel(x, y float64) float64 {
	const (
		c1 = 4.16666666666666019037e-02
		c2 = -1.38888888888741095749e-03
		c3 = 2.48015872894767294178e-05
		c4 = -2.75573143513906633035e-07
		c5 = 2.08757232129817482790e-09
		c6 = -1.13596475577881948265e-11
	)
	z := float64(x * x)
	w := float64(z * z)
	// r = z·(c1 + z·(c2 + z·c3)) + w²·(c4 + z·(c5 + z·c6))
	lo := c2 + float64(z*c3)
	lo = c1 + float64(z*lo)
	hi := c5 + float64(z*c6)
	hi = c4 + float64(z*hi)
	r := float64(z*lo) + float64(float64(w*w)*hi)
	hz := float64(0.5 * z)
	w = 1 - hz
	return w + (((1 - w) - hz) + (float64(z*r) - float64(x*y)))
}
