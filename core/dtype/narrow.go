package dtype

import "math"

// narrow rounds x to nearest, ties to even, into an IEEE 754 style binary format
// with ebits exponent bits and mbits mantissa bits (bias 2^(ebits-1)-1, the
// all-ones exponent for Inf and NaN), and returns the encoding in the low
// 1+ebits+mbits bits. It works on the float64 bits with integer arithmetic, so
// there is exactly one rounding whatever the target. Targets must be narrower
// than float64 with ebits <= 8 (binary16, bfloat16, binary32, E5M2): float64
// subnormals then lie far below half their smallest subnormal.
func narrow(x float64, ebits, mbits uint) uint64 {
	b := math.Float64bits(x)
	sign := b >> 63 << (ebits + mbits)
	e := int(b>>52) & 0x7ff
	m := b & (1<<52 - 1)
	expMax := uint64(1)<<ebits - 1
	switch {
	case e == 0x7ff:
		if m != 0 {
			return sign | expMax<<mbits | 1<<(mbits-1) | m>>(52-mbits)
		}
		return sign | expMax<<mbits
	case e == 0:
		return sign
	}
	bias := 1<<(ebits-1) - 1
	te := e - 1023 + bias // the target's biased exponent, if x were normal there
	full := m | 1<<52
	if te <= 0 {
		// Subnormal in the target: the step is 2^(1-bias-mbits), so keep the
		// bits of full at and above that step. Rounding up to the smallest
		// normal yields 1<<mbits, which is its correct encoding.
		shift := uint(52 - int(mbits) + 1 - te)
		if shift > 53 {
			return sign // below half the smallest subnormal
		}
		return sign | roundShift(full, shift)
	}
	if te >= int(expMax) {
		return sign | expMax<<mbits
	}
	// r has the implicit bit, 1<<mbits, or carries to 2<<mbits; adding it to
	// (te-1)<<mbits bumps the exponent on a carry, up to Inf.
	r := roundShift(full, 52-mbits)
	return sign | (uint64(te-1)<<mbits + r)
}

// roundShift returns v / 2^s rounded to nearest, ties to even, for 1 <= s <= 53
// and v < 2^53, so that nothing overflows.
func roundShift(v uint64, s uint) uint64 {
	return (v + (1<<(s-1) - 1) + (v>>s)&1) >> s
}
