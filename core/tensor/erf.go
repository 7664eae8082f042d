package tensor

import "math"

// Erf is the error function, (2/√π)·∫₀ˣ e^(−t²) dt, with the same bits on every
// target: package math's Erf is pure Go, which the compiler fuses into FMA
// instructions on arm64 and on amd64 at GOAMD64=v3, and it calls math.Exp, which is
// assembly on amd64. This one rounds every product explicitly and takes e^x from Exp.
// nn's gelu (the exact erf form) uses it in exact mode.
//
// Algorithm: fdlibm's (the one package math follows). On |x| < 0.84375,
// x + x·P(x²)/Q(x²); on [0.84375, 1.25), erf(1) rounded to 24 bits plus a rational
// function of |x| − 1; on [1.25, 6), 1 − e^(−x² − 0.5625 + R(1/x²)/S(1/x²))/|x|, with
// x² split as z² + (x − z)(x + z), z being x's leading 21 bits, so that no bits of x²
// are lost in the exponent; ±1 beyond 6. The rational approximations err below 2⁻⁵⁷;
// the result is within 1 ulp of erf x (the tests measure 0.87 ulp at worst against
// math/big).
//
// Special cases: Erf(±0) = ±0, Erf(±Inf) = ±1, Erf(NaN) = NaN.
func Erf(x float64) float64 {
	const (
		erx      = 8.45062911510467529297e-01 // erf(1) to 24 bits
		efx      = 1.28379167095512586316e-01 // 2/√π − 1
		efx8     = 1.02703333676410069053e+00 // 8·efx
		veryTiny = 2.848094538889218e-306     // 0x0080000000000000
		small    = 0x1p-28
	)
	switch {
	case x != x || x == 0:
		return x
	case math.IsInf(x, 1):
		return 1
	case math.IsInf(x, -1):
		return -1
	}
	a := math.Abs(x)
	var e float64
	switch {
	case a < small:
		if a < veryTiny { // 8·a keeps the product efx·a out of the subnormals
			e = 0.125 * (float64(8*a) + float64(efx8*a))
		} else {
			e = a + float64(efx*a)
		}
	case a < 0.84375:
		e = a + float64(a*erfSmall(float64(a*a)))
	case a < 1.25:
		e = erx + erfNearOne(a-1)
	case a < 6:
		e = 1 - erfcLarge(a)
	default:
		e = 1
	}
	if x < 0 {
		return -e
	}
	return e
}

// erfSmall is (erf t − t)/t at z = t² for t < 0.84375: a (4, 5) rational function.
func erfSmall(z float64) float64 {
	const (
		pp0 = 1.28379167095512558561e-01
		pp1 = -3.25042107247001499370e-01
		pp2 = -2.84817495755985104766e-02
		pp3 = -5.77027029648944159157e-03
		pp4 = -2.37630166566501626084e-05
		qq1 = 3.97917223959155352819e-01
		qq2 = 6.50222499887672944485e-02
		qq3 = 5.08130628187576562776e-03
		qq4 = 1.32494738004321644526e-04
		qq5 = -3.96022827877536812320e-06
	)
	r := pp3 + float64(z*pp4)
	r = pp2 + float64(z*r)
	r = pp1 + float64(z*r)
	r = pp0 + float64(z*r)
	s := qq4 + float64(z*qq5)
	s = qq3 + float64(z*s)
	s = qq2 + float64(z*s)
	s = qq1 + float64(z*s)
	s = 1 + float64(z*s)
	return r / s
}

// erfNearOne is erf(1 + s) − erx for s in [−0.15625, 0.25): a (6, 6) rational
// function.
func erfNearOne(s float64) float64 {
	const (
		pa0 = -2.36211856075265944077e-03
		pa1 = 4.14856118683748331666e-01
		pa2 = -3.72207876035701323847e-01
		pa3 = 3.18346619901161753674e-01
		pa4 = -1.10894694282396677476e-01
		pa5 = 3.54783043256182359371e-02
		pa6 = -2.16637559486879084300e-03
		qa1 = 1.06420880400844228286e-01
		qa2 = 5.40397917702171048937e-01
		qa3 = 7.18286544141962662868e-02
		qa4 = 1.26171219808761642112e-01
		qa5 = 1.36370839120290507362e-02
		qa6 = 1.19844998467991074170e-02
	)
	p := pa5 + float64(s*pa6)
	p = pa4 + float64(s*p)
	p = pa3 + float64(s*p)
	p = pa2 + float64(s*p)
	p = pa1 + float64(s*p)
	p = pa0 + float64(s*p)
	q := qa5 + float64(s*qa6)
	q = qa4 + float64(s*q)
	q = qa3 + float64(s*q)
	q = qa2 + float64(s*q)
	q = qa1 + float64(s*q)
	q = 1 + float64(s*q)
	return p / q
}

// erfcLarge is erfc a = 1 − erf a for a in [1.25, 6): e^(−a² − 0.5625 + R/S)/a with
// R/S rational in 1/a² (one pair below 1/0.35, another above).
func erfcLarge(a float64) float64 {
	const (
		ra0 = -9.86494403484714822705e-03
		ra1 = -6.93858572707181764372e-01
		ra2 = -1.05586262253232909814e+01
		ra3 = -6.23753324503260060396e+01
		ra4 = -1.62396669462573470355e+02
		ra5 = -1.84605092906711035994e+02
		ra6 = -8.12874355063065934246e+01
		ra7 = -9.81432934416914548592e+00
		sa1 = 1.96512716674392571292e+01
		sa2 = 1.37657754143519042600e+02
		sa3 = 4.34565877475229228821e+02
		sa4 = 6.45387271733267880336e+02
		sa5 = 4.29008140027567833386e+02
		sa6 = 1.08635005541779435134e+02
		sa7 = 6.57024977031928170135e+00
		sa8 = -6.04244152148580987438e-02
		rb0 = -9.86494292470009928597e-03
		rb1 = -7.99283237680523006574e-01
		rb2 = -1.77579549177547519889e+01
		rb3 = -1.60636384855821916062e+02
		rb4 = -6.37566443368389627722e+02
		rb5 = -1.02509513161107724954e+03
		rb6 = -4.83519191608651397019e+02
		sb1 = 3.03380607434824582924e+01
		sb2 = 3.25792512996573918826e+02
		sb3 = 1.53672958608443695994e+03
		sb4 = 3.19985821950859553908e+03
		sb5 = 2.55305040643316442583e+03
		sb6 = 4.74528541206955367215e+02
		sb7 = -2.24409524465858183362e+01
	)
	s := 1 / float64(a*a)
	var r, q float64
	if a < 1/0.35 {
		r = ra6 + float64(s*ra7)
		r = ra5 + float64(s*r)
		r = ra4 + float64(s*r)
		r = ra3 + float64(s*r)
		r = ra2 + float64(s*r)
		r = ra1 + float64(s*r)
		r = ra0 + float64(s*r)
		q = sa7 + float64(s*sa8)
		q = sa6 + float64(s*q)
		q = sa5 + float64(s*q)
		q = sa4 + float64(s*q)
		q = sa3 + float64(s*q)
		q = sa2 + float64(s*q)
		q = sa1 + float64(s*q)
		q = 1 + float64(s*q)
	} else {
		r = rb5 + float64(s*rb6)
		r = rb4 + float64(s*r)
		r = rb3 + float64(s*r)
		r = rb2 + float64(s*r)
		r = rb1 + float64(s*r)
		r = rb0 + float64(s*r)
		q = sb6 + float64(s*sb7)
		q = sb5 + float64(s*q)
		q = sb4 + float64(s*q)
		q = sb3 + float64(s*q)
		q = sb2 + float64(s*q)
		q = sb1 + float64(s*q)
		q = 1 + float64(s*q)
	}
	z := math.Float64frombits(math.Float64bits(a) &^ 0xffffffff) // a's leading 21 bits: z² is exact
	e := Exp(float64(-z*z)-0.5625) * Exp(float64((z-a)*(z+a))+r/q)
	return e / a
}
