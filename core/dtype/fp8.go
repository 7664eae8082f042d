package dtype

import "math"

// F8E4M3ToF32 returns the value of the float8_e4m3fn number with bits b
// (the OCP FP8 E4M3 format PyTorch calls float8_e4m3fn): 1 sign, 4 exponent
// bits with bias 7, 3 mantissa bits, no infinities, S.1111.111 is NaN and
// ±448 the largest finite value. Every value is exact in float32; NaN decodes
// to a quiet float32 NaN with the same sign.
func F8E4M3ToF32(b uint8) float32 {
	sign := uint32(b&0x80) << 24
	e := uint32(b>>3) & 0xf
	m := uint32(b & 7)
	switch {
	case b&0x7f == 0x7f:
		return math.Float32frombits(sign | 0x7fc00000)
	case e == 0: // subnormal: m·2^-9, exact as a float32 product
		return math.Float32frombits(sign | math.Float32bits(float32(m)*0x1p-9))
	}
	return math.Float32frombits(sign | (e+127-7)<<23 | m<<20)
}

// F8E5M2ToF32 returns the value of the float8_e5m2 number with bits b: 1 sign,
// 5 exponent bits with bias 15, 2 mantissa bits, IEEE-like with infinities and
// NaNs. E5M2 is binary16 with the low mantissa byte cut off, so this widens
// through F16ToF32 and is exact for every pattern.
func F8E5M2ToF32(b uint8) float32 {
	return F16ToF32(uint16(b) << 8)
}

// The row decoders look F8 values up rather than recomputing them per element:
// 256 entries are cheaper to index than to branch over.
var (
	e4m3Table = f8Table(F8E4M3ToF32)
	e5m2Table = f8Table(F8E5M2ToF32)
)

func f8Table(f func(uint8) float32) *[256]float32 {
	var t [256]float32
	for i := range t {
		t[i] = f(uint8(i))
	}
	return &t
}
