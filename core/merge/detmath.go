package merge

import (
	"math"

	"ladle/core/tensor"
)

// exp and tanh for methods whose output must be the same bits on every target.
// Package math's Exp is assembly on amd64 (a different algorithm from the pure-Go code
// wasm runs), and its Tanh calls Exp, so their last bits differ between the command
// and the page. These are written out with every product rounded explicitly.

// detTanh is tanh(x) = 1 − 2/(e^{2|x|} + 1) with x's sign, by its Taylor series near 0
// (where the difference would cancel); within a few ulps of math.Tanh.
func detTanh(x float64) float64 {
	a := math.Abs(x)
	var t float64
	switch {
	case math.IsNaN(x):
		return x
	case a > 22:
		t = 1
	case a < 0.05:
		// a − a³/3 + 2a⁵/15 − 17a⁷/315 + 62a⁹/2835 − 1382a¹¹/155925: the next term is
		// below 1e-17 relative here.
		a2 := float64(a * a)
		p := 62.0/2835 - float64(a2*(1382.0/155925))
		p = 17.0/315 - float64(a2*p)
		p = 2.0/15 - float64(a2*p)
		p = 1.0/3 - float64(a2*p)
		t = a - float64(a*float64(a2*p))
	default:
		t = 1 - 2/(tensor.Exp(2*a)+1)
	}
	if x < 0 {
		return -t
	}
	return t
}
