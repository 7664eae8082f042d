package compute

import "math"

// F32Math is the float32 arithmetic a GPU kernel may do less exactly than IEEE
// rounding: WGSL promises exp to 3 + 2·|x| ulps, log to 3 ulps (outside [0.5, 2],
// where it promises only 2⁻²¹ absolute, which is why LogSoftmaxF32 never takes a log
// there) and division to 2.5 ulps. The tests supply versions that err by those bounds.
type F32Math struct {
	Exp, Log func(float32) float32
	Div      func(a, b float32) float32
}

// IEEEF32 is F32Math rounded correctly (to the nearest float32 of the float64 result).
var IEEEF32 = F32Math{
	Exp: func(x float32) float32 { return float32(math.Exp(float64(x))) },
	Log: func(x float32) float32 { return float32(math.Log(float64(x))) },
	Div: func(a, b float32) float32 { return a / b },
}

// LogSoftmaxF32 sets v to log_softmax(v) the way wasm/gpu's WGSL kernel computes it
// (forward.wgsl transliterates this function), in float32 with f's exp, log and
// division:
//
//	m = the first largest v[c], t = Σ_{c≠m} exp(v[c] − v[m]), v[c] ← (v[c] − v[m]) − log1p(t).
//
// Written so that no step cancels: v[c] − v[m] ≤ 0 is one rounding (exact when the
// two are within a factor of two), and log1p(t) is computed without forming 1 + t for
// t ≤ 1, where 1 + t would lose t's low bits, through 2·atanh(t/(2 + t)), whose series
// converges fast for t/(2 + t) ≤ 1/3. The sample's loss −v[label] is then (v[m] −
// v[label]) + log1p(t), a sum of two non-negative terms each with a small relative
// error; a naive v[c] − (v[m] + log Σ) loses the loss of a confident sample (1e-4,
// say, next to logits of 10) to the rounding of the sum. The tests bound the relative
// error of every sample's loss with f erring as far as WGSL allows.
func LogSoftmaxF32(v []float32, f F32Math) {
	if len(v) == 0 {
		return
	}
	m := 0
	for c, x := range v {
		if x > v[m] {
			m = c
		}
	}
	mx := v[m]
	var t float32
	for c, x := range v {
		if c != m {
			t += f.Exp(x - mx)
		}
	}
	l := Log1pF32(t, f)
	for c, x := range v {
		v[c] = (x - mx) - l
	}
}

// Log1pF32 is log(1 + t) for t ≥ 0 as the WGSL kernel computes it: for t ≤ 1,
// 2·(z + z³/3 + … + z¹⁵/15) with z = t/(2 + t) ≤ 1/3 (the first term left out is
// below z·2⁻²⁶·(2/17)); above, log(1 + t) ≥ log 2, where WGSL's 3 ulps hold.
func Log1pF32(t float32, f F32Math) float32 {
	if t > 1 {
		return f.Log(1 + t)
	}
	z := f.Div(t, 2+t)
	z2 := z * z
	// Horner from the highest term: 2/15, 2/13, …, 2/3, 2. The products and sums round
	// separately (a GPU may fuse them, which only helps).
	s := float32(2.0 / 15)
	for _, k := range [...]float32{2.0 / 13, 2.0 / 11, 2.0 / 9, 2.0 / 7, 2.0 / 5, 2.0 / 3, 2} {
		s = float32(s*z2) + k
	}
	return float32(z * s)
}
