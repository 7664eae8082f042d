package tensor

import "math"

// Acos is arccos x in [0, π] with the same bits on every target: package math's
// Acos is pure Go (through Asin and Atan), which the compiler fuses into FMA
// instructions on arm64 and on amd64 at GOAMD64=v3; this one rounds every product
// explicitly. Slerp and the sphere methods take their angles from it.
//
// Algorithm: fdlibm's. For |x| < 0.5, π/2 − (x + x³·R(x²)); for |x| ≥ 0.5,
// 2·asin(√((1 − x)/2)) or π − 2·asin(√((1 + x)/2)), with R a rational minimax
// approximation of (asin t − t)/t³ (error below 2⁻⁵⁸), the square root correctly
// rounded everywhere (IEEE 754) and split into a 26-bit head and a tail near 1.
// Within 1 ulp of arccos x (the tests measure 0.87 ulp at worst against math/big).
//
// Special cases: Acos(1) = 0, Acos(−1) = π rounded, Acos(x) = NaN for |x| > 1 and NaN.
func Acos(x float64) float64 {
	const (
		pi     = 3.14159265358979311600e+00
		pio2Hi = 1.57079632679489655800e+00
		pio2Lo = 6.12323399573676603587e-17 // π/2 − pio2Hi
	)
	switch {
	case x != x:
		return x
	case x == 1:
		return 0
	case x == -1:
		return pi
	case x > 1 || x < -1:
		return math.NaN()
	}
	if math.Abs(x) < 0.5 {
		if math.Abs(x) <= 0x1p-57 {
			return pio2Hi + pio2Lo
		}
		r := asinRatio(float64(x * x))
		return pio2Hi - (x - (pio2Lo - float64(x*r)))
	}
	if x < 0 { // π − 2·asin(s), s = √((1 + x)/2)
		z := float64((1 + x) * 0.5)
		s := math.Sqrt(z)
		w := float64(asinRatio(z)*s) - pio2Lo
		return pi - float64(2*(s+w))
	}
	// 2·asin(s), s = √((1 − x)/2) = df + c with df s's leading 26 bits, so that df² is
	// exact and c recovers what the square root rounded off.
	z := float64((1 - x) * 0.5)
	s := math.Sqrt(z)
	df := math.Float64frombits(math.Float64bits(s) &^ 0xffffffff)
	c := (z - float64(df*df)) / (s + df)
	w := float64(asinRatio(z)*s) + c
	return float64(2 * (df + w))
}

// asinRatio is R(z) = (asin t − t)/t³ at z = t², a (6, 4) rational minimax
// approximation (fdlibm's pS and qS), for 0 ≤ z ≤ 1/4.
func asinRatio(z float64) float64 {
	const (
		pS0 = 1.66666666666666657415e-01
		pS1 = -3.25565818622400915405e-01
		pS2 = 2.01212532134862925881e-01
		pS3 = -4.00555345006794114027e-02
		pS4 = 7.91534994289814532176e-04
		pS5 = 3.47933107596021167570e-05
		qS1 = -2.40339491173441421878e+00
		qS2 = 2.02094576023350569471e+00
		qS3 = -6.88283971605453293030e-01
		qS4 = 7.70381505559019352791e-02
	)
	p := pS4 + float64(z*pS5)
	p = pS3 + float64(z*p)
	p = pS2 + float64(z*p)
	p = pS1 + float64(z*p)
	p = pS0 + float64(z*p)
	p = float64(z * p)
	q := qS3 + float64(z*qS4)
	q = qS2 + float64(z*q)
	q = qS1 + float64(z*q)
	q = 1 + float64(z*q)
	return p / q
}
