package dtype

import (
	"math"
	"sort"
)

// This file holds the independent references the tests compare against. They
// compute values from the format definitions with math.Ldexp and round by
// searching an explicit, sorted table of a format's values, never with the
// bit tricks of the code under test.

// refF16 is the value of binary16 bits h, from the definition.
func refF16(h uint16) float64 {
	return refIEEE(uint64(h), 5, 10)
}

// refBF16 is the value of bfloat16 bits h, from the definition.
func refBF16(h uint16) float64 {
	return refIEEE(uint64(h), 8, 7)
}

// refIEEE decodes an IEEE 754 style format with ebits exponent and mbits
// mantissa bits.
func refIEEE(bits uint64, ebits, mbits int) float64 {
	sign := 1.0
	if bits>>(ebits+mbits)&1 != 0 {
		sign = -1
	}
	bias := 1<<(ebits-1) - 1
	e := int(bits>>mbits) & (1<<ebits - 1)
	m := float64(bits & (1<<mbits - 1))
	frac := m / float64(int(1)<<mbits)
	switch e {
	case 1<<ebits - 1:
		if m != 0 {
			return math.NaN()
		}
		return math.Copysign(math.Inf(1), sign)
	case 0:
		return sign * math.Ldexp(frac, 1-bias)
	}
	return sign * math.Ldexp(1+frac, e-bias)
}

// refE4M3 is the value of float8_e4m3fn bits b: no infinities, S.1111.111 NaN.
func refE4M3(b uint8) float64 {
	sign := 1.0
	if b&0x80 != 0 {
		sign = -1
	}
	e := int(b>>3) & 15
	m := float64(b & 7)
	switch {
	case e == 15 && m == 7:
		return math.NaN()
	case e == 0:
		return sign * math.Ldexp(m/8, 1-7)
	}
	return sign * math.Ldexp(1+m/8, e-7)
}

// grid rounds by enumeration: vals are all non-negative finite values of a
// format in increasing order, followed by the first power of two past the
// largest finite value, which stands for overflow and carries the bits of +Inf
// (an even mantissa, so ties against the largest finite value go to Inf, as
// IEEE 754 specifies).
type grid struct {
	vals []float64
	bits []uint64
}

func newGrid(ebits, mbits int) grid {
	var g grid
	inf := uint64(1<<ebits-1) << mbits
	for b := uint64(0); b < inf; b++ {
		g.vals = append(g.vals, refIEEE(b, ebits, mbits))
		g.bits = append(g.bits, b)
	}
	g.vals = append(g.vals, math.Ldexp(1, 1<<(ebits-1)))
	g.bits = append(g.bits, inf)
	if !sort.Float64sAreSorted(g.vals) {
		panic("grid values out of order")
	}
	return g
}

// round returns the bits of the nearest value to x, ties to the even encoding,
// or the NaN marker nan for NaN inputs (checked separately by the tests).
func (g grid) round(x float64, signShift int) uint64 {
	const nan = ^uint64(0)
	if math.IsNaN(x) {
		return nan
	}
	var sign uint64
	if math.Signbit(x) {
		sign = 1 << signShift
		x = -x
	}
	top := len(g.vals) - 1
	i := sort.SearchFloat64s(g.vals, x)
	switch {
	case i > top: // beyond the overflow marker, or +Inf itself
		return sign | g.bits[top]
	case g.vals[i] == x:
		return sign | g.bits[i]
	}
	lo, hi := i-1, i
	mid := (g.vals[lo] + g.vals[hi]) / 2 // exact: a few more bits than the format
	switch {
	case x < mid:
		return sign | g.bits[lo]
	case x > mid:
		return sign | g.bits[hi]
	case g.bits[lo]&1 == 0:
		return sign | g.bits[lo]
	}
	return sign | g.bits[hi]
}

// midpoints returns every midpoint between consecutive grid values, the
// overflow midpoint included.
func (g grid) midpoints() []float64 {
	m := make([]float64, 0, len(g.vals)-1)
	for i := 1; i < len(g.vals); i++ {
		m = append(m, (g.vals[i-1]+g.vals[i])/2)
	}
	return m
}
