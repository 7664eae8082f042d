package dtype

import "math"

// BF16ToF32 returns the value of the bfloat16 number with bits h. bfloat16 is
// the top half of a float32, so this is exact for every pattern, NaN payloads
// included.
func BF16ToF32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// F32ToBF16 rounds f to the nearest bfloat16 value, ties to even. Values from
// the midpoint above the largest finite bfloat16 become ±Inf, and a NaN stays a
// NaN with the same sign, the top of its payload and the quiet bit set.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	// Adding 0x7fff plus the lowest kept bit carries exactly when the dropped
	// half exceeds one half-ulp, or equals it and the kept half is odd.
	r := (b + 0x7fff + (b>>16)&1) >> 16
	if b&0x7fffffff > 0x7f800000 {
		// Rounding a NaN whose payload lies in the low half would carry into
		// the exponent, or leave an all-zero mantissa: Inf either way. Written
		// as a select after the fact so that the compiler emits a conditional
		// move, not a branch, in the row loops.
		r = b>>16 | 0x0040
	}
	return uint16(r)
}

// F64ToBF16 rounds x to the nearest bfloat16 value, ties to even, directly from
// float64 rather than through float32, which would round twice. Overflow and NaN
// behave as in F32ToBF16.
func F64ToBF16(x float64) uint16 {
	return uint16(narrow(x, 8, 7))
}
