package compute

import "math/bits"

// UnitSumExact computes one element of UnitSum from the float32 bits of its inputs
// with integer arithmetic only, as the WGSL kernel does (wasm/gpu transliterates it
// into u32 pairs): the exact sum of the inputs is an integer I times 2^lo, the
// float64 rounding of the sum and of its quotient by d are integer roundings to 53
// bits, and the float32 conversion a second rounding to 24 bits, ties to even each
// time. It returns ok = false where it cannot prove that this equals the float64 path
// (UnitSumRef): an input is NaN, infinite or subnormal, a partial sum could be wider
// than 53 bits (then float64 rounds it), or the result is subnormal or overflows.
// d > 1 divides; d == 1 multiplies by 2^mulExp.
func UnitSumExact(in []uint32, d uint32, mulExp int32) (out uint32, ok bool) {
	minLow, maxTop := int32(1<<30), int32(-1<<30)
	allNegZero := true
	for _, v := range in {
		e := int32(v >> 23 & 0xff)
		m := v & 0x7fffff
		if e == 0xff || (e == 0 && m != 0) {
			return 0, false
		}
		if e == 0 {
			allNegZero = allNegZero && v>>31 == 1
			continue
		}
		allNegZero = false
		sig := m | 0x800000
		low := e - 150 + int32(bits.TrailingZeros32(sig))
		minLow = min(minLow, low)
		maxTop = max(maxTop, e-127)
	}
	if maxTop == -1<<30 { // only zeros: −0 when every one is −0 (IEEE's sum of zeros)
		if allNegZero {
			return 1 << 31, true
		}
		return 0, true
	}
	// Every partial sum is a multiple of 2^minLow below len(in)·2^(maxTop+1): it fits
	// float64's 53 bits when maxTop + 1 + carries − minLow ≤ 53.
	carries := int32(bits.Len32(uint32(len(in) - 1)))
	if maxTop+1+carries-minLow > 53 {
		return 0, false
	}
	var acc uint64 // two's complement
	for _, v := range in {
		e := int32(v >> 23 & 0xff)
		if e == 0 {
			continue
		}
		sig := v&0x7fffff | 0x800000
		tz := int32(bits.TrailingZeros32(sig))
		t := uint64(sig>>tz) << uint32(e-150+tz-minLow)
		if v>>31 == 1 {
			acc -= t
		} else {
			acc += t
		}
	}
	neg := acc>>63 == 1
	mag := acc
	if neg {
		mag = -acc
	}
	if mag == 0 { // x + (−x) is +0
		return 0, true
	}
	var sig24 uint32
	var exp int32 // exponent of sig24's top bit
	if d == 1 {
		sig24, exp = round24(mag, minLow+mulExp)
	} else {
		// float64(mag·2^minLow / d): a quotient of at least 55 bits, rounded to 53
		// with the remainder as sticky bit, then to 24.
		t := uint32(55 + bits.Len32(d) - bits.Len64(mag))
		hi, lo := shl128(mag, t)
		q, r := div128(hi, lo, d)
		lq := int32(bits.Len64(q))
		sh := uint32(lq - 53)
		q53 := q >> sh
		rem, half := q&(1<<sh-1), uint64(1)<<(sh-1)
		if rem > half || (rem == half && (r != 0 || q53&1 == 1)) {
			q53++
		}
		e53 := minLow - int32(t) + lq - 1
		if q53 == 1<<53 {
			q53 >>= 1
			e53++
		}
		sig24, exp = round24(q53, e53-52)
	}
	be := exp + 127
	if be <= 0 || be >= 0xff {
		return 0, false
	}
	out = uint32(be)<<23 | sig24&0x7fffff
	if neg {
		out |= 1 << 31
	}
	return out, true
}

// round24 rounds mag·2^e (mag > 0) to 24 significant bits, ties to even, and returns
// the significand (bit 23 set) and the exponent of its top bit.
func round24(mag uint64, e int32) (uint32, int32) {
	l := int32(bits.Len64(mag))
	top := e + l - 1
	if l <= 24 {
		return uint32(mag << uint32(24-l)), top
	}
	sh := uint32(l - 24)
	q := mag >> sh
	rem, half := mag&(1<<sh-1), uint64(1)<<(sh-1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	if q == 1<<24 {
		q >>= 1
		top++
	}
	return uint32(q), top
}

func shl128(x uint64, s uint32) (hi, lo uint64) {
	if s == 0 {
		return 0, x
	}
	if s >= 64 {
		return x << (s - 64), 0
	}
	return x >> (64 - s), x << s
}

// div128 divides the 128-bit hi:lo by d (< 2^16) when the quotient fits 64 bits.
func div128(hi, lo uint64, d uint32) (q uint64, r uint32) {
	q, rr := bits.Div64(hi%uint64(d), lo, uint64(d))
	return q, uint32(rr)
}
