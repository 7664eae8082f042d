package tensor

import "math"

// Tanh is the hyperbolic tangent with the same bits on every target: package math's
// Tanh is pure Go calling math.Exp, which is assembly on amd64, and the compiler
// fuses its products into FMA instructions on arm64 and on amd64 at GOAMD64=v3. This
// one rounds every product explicitly and takes e^x from Exp. nn's tanh uses it in
// exact mode.
//
// Algorithm: Cephes' (the one package math follows). For |x| < 0.625,
// x + x³·P(x²)/Q(x²), a (2, 3) rational approximation; above,
// 1 − 2/(e^(2|x|) + 1) with x's sign; ±1 beyond 44 (where tanh rounds to ±1 by far).
// The tests measure 1.16 ulp at worst against math/big, just above 0.625, where the
// subtraction from 1 carries the error of e^(2|x|) (fdlibm's expm1 form would be
// tighter; 1.2 ulp is far below what a float32 activation keeps).
//
// Special cases: Tanh(±0) = ±0, Tanh(±Inf) = ±1, Tanh(NaN) = NaN.
func Tanh(x float64) float64 {
	const (
		p0 = -9.64399179425052238628e-1
		p1 = -9.92877231001918586564e1
		p2 = -1.61468768441708447952e3
		q0 = 1.12811678491632931402e2
		q1 = 2.23548839060100448583e3
		q2 = 4.84406305325125486048e3
	)
	a := math.Abs(x)
	var t float64
	switch {
	case x != x:
		return x
	case a > 44:
		t = 1
	case a >= 0.625:
		t = 1 - 2/(Exp(2*a)+1)
	default:
		if x == 0 {
			return x
		}
		s := float64(a * a)
		p := float64(p0*s) + p1
		p = float64(p*s) + p2
		q := float64((s+q0)*s) + q1
		q = float64(q*s) + q2
		t = a + float64(float64(a*s)*p)/q
	}
	if x < 0 {
		return -t
	}
	return t
}
