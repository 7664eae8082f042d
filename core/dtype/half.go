package dtype

import (
	"math"
	"sync"
)

// F16ToF32 returns the value of the IEEE 754 binary16 number with bits h.
// Every binary16 value, subnormals and infinities included, is exact in float32;
// a NaN keeps its sign and payload.
func F16ToF32(h uint16) float32 {
	// Shift exponent and mantissa into float32 position and rebias, then fix up
	// the two exponents that do not rebias linearly (Fabian Giesen's
	// half_to_float). Small enough to inline; rows use f16Table instead.
	o := uint32(h&0x7fff) << 13
	exp := o & 0x0f800000
	o += (127 - 15) << 23
	switch exp {
	case 0x0f800000: // Inf or NaN: exponent all ones in float32 as well.
		o += (128 - 16) << 23
	case 0: // Zero or subnormal: let the FPU normalise m·2^-24 exactly.
		o += 1 << 23
		o = math.Float32bits(math.Float32frombits(o) - 0x1p-14)
	}
	return math.Float32frombits(o | uint32(h&0x8000)<<16)
}

// F32ToF16 rounds f to the nearest binary16 value, ties to even. Magnitudes
// from 65520 up become ±Inf, magnitudes up to 2^-25 become ±0, and a NaN stays
// a NaN with the same sign, the top of its payload and the quiet bit set.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	a := b & 0x7fffffff
	switch {
	case f16Normal(a):
		return sign | f16RoundNormal(a)
	case a > 0x7f800000:
		return sign | 0x7e00 | uint16(a>>13)&0x3ff
	case a >= 0x47800000: // nothing from 2^16 up rounds down into range
		return sign | 0x7c00
	}
	// The result is subnormal or zero. Adding 0.5, whose float32 ulp is 2^-24
	// (the binary16 subnormal step), makes the FPU round to a multiple of that
	// step, ties to even; the multiple is then the low bits. A carry to 2^-14
	// yields 0x400, the smallest normal, which is the correct encoding.
	r := float32(math.Float32frombits(a) + 0.5)
	return sign | uint16(math.Float32bits(r)-0x3f000000)
}

// f16Normal reports whether the float32 magnitude with bits a, 2^-14 <= a < 2^16,
// is in the range f16RoundNormal handles: where nearly all weights lie, so the
// row loops test it inline and call F32ToF16 only for the rest.
func f16Normal(a uint32) bool {
	return a-0x38800000 < 0x47800000-0x38800000
}

// f16RoundNormal rebiases the exponent of the float32 magnitude a and rounds
// away its 13 extra mantissa bits to nearest even: adding 0xfff plus the lowest
// kept bit carries exactly when the dropped part exceeds one half, or equals it
// and the kept part is odd. A carry out of the mantissa bumps the exponent, up
// to Inf from 65520.
func f16RoundNormal(a uint32) uint16 {
	return uint16((a + 0xc8000fff + (a>>13)&1) >> 13)
}

// F64ToF16 rounds x to the nearest binary16 value, ties to even, directly from
// float64: going through float32 would round twice and can be off by one ulp.
// Overflow, underflow and NaN behave as in F32ToF16.
func F64ToF16(x float64) uint16 {
	return uint16(narrow(x, 5, 10))
}

// f16Table holds F16ToF32 of every pattern. Decoding rows by lookup is about
// three times faster than the arithmetic, since weights use few distinct
// exponents and their entries stay in cache. It is 256 KiB, so it is built on
// first use rather than at start-up, which matters for the wasm build.
var f16Table = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = F16ToF32(uint16(i))
	}
	return &t
})
