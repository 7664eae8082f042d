package compute

import (
	"math"
	"math/rand/v2"
)

// hardValues returns n float32 values mixing weight-like numbers with the cases that
// break naive kernels: ±0, ties (values an exact half ulp apart), subnormals, NaN,
// ±Inf, values far apart in magnitude and the extremes of the normal range.
func hardValues(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		switch k := r.IntN(20); {
		case k < 8:
			out[i] = float32(r.NormFloat64() * 0.05)
		case k == 8:
			out[i] = 0
		case k == 9:
			out[i] = float32(math.Copysign(0, -1))
		case k == 10:
			out[i] = math.Float32frombits(uint32(r.IntN(1 << 23))) // subnormal (or 0)
		case k == 11:
			out[i] = float32(math.NaN())
		case k == 12:
			out[i] = float32(math.Inf(1 - 2*r.IntN(2)))
		case k == 13:
			out[i] = float32(math.Ldexp(1+float64(r.IntN(8))/8, r.IntN(250)-125)) // any exponent
		case k == 14:
			out[i] = float32(math.Ldexp(1, -24+r.IntN(3))) // half-ulp ties against 1
		case k == 15:
			out[i] = float32(1 + float64(r.IntN(4))*0x1p-23)
		case k == 16:
			out[i] = math.MaxFloat32 * float32(1-2*r.IntN(2))
		case k == 17:
			out[i] = float32(math.Ldexp(1, -126)) // the smallest normal
		default:
			out[i] = float32(r.Float64()*2 - 1)
		}
	}
	return out
}
