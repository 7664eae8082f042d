package compute

import (
	"math"

	"ladle/core/tensor"
)

// The CPU references. They restate, element by element, what package merge and
// package nn compute, and the tests check them against those packages; every backend
// is checked against them.

// UnitSumRef is Merger.UnitSum on the CPU: package merge's linear merge of models
// whose weights are all 1 (w·x is x exactly, so the products vanish).
func UnitSumRef(out []float32, xs [][]float32, div, mul float64) {
	for c := range out {
		a := float64(xs[0][c])
		for _, x := range xs[1:] {
			a += float64(x[c])
		}
		if div != 0 {
			out[c] = float32(a / div)
		} else {
			out[c] = float32(a * mul)
		}
	}
}

// KeyHistogramRef is Merger.KeyHistogram on the CPU (package tensor's radix select).
func KeyHistogramRef(h *Hist16, x, base []float32, high bool, match uint32) {
	for i, v := range x {
		if base != nil {
			v -= base[i]
		}
		k := tensor.AbsKey(v)
		if high {
			h[k>>16]++
		} else if k>>16 == match {
			h[k&0xffff]++
		}
	}
}

// LinearRef is Forwarder.Linear on the CPU, summed in index order in float32.
func LinearRef(y, x, w, bias []float32, n, in, out int, relu bool) {
	for s := range n {
		xs := x[s*in : (s+1)*in]
		for o := range out {
			var a float32
			for k, v := range w[o*in : (o+1)*in] {
				a += xs[k] * v
			}
			if bias != nil {
				a += bias[o]
			}
			if relu {
				a = max(a, 0)
			}
			y[s*out+o] = a
		}
	}
}

// Conv2DRef is Forwarder.Conv2D on the CPU, summed in (c, ky, kx) order in float32.
func Conv2DRef(y, x, w, bias []float32, n int, g ConvGeom, relu bool) {
	inN, outN := g.C*g.H*g.W, g.OC*g.OH*g.OW
	for s := range n {
		xs, ys := x[s*inN:(s+1)*inN], y[s*outN:(s+1)*outN]
		for o := range g.OC {
			for oy := range g.OH {
				for ox := range g.OW {
					var a float32
					for c := range g.C {
						for ky := range g.KH {
							iy := oy*g.SH + ky - g.PH
							if iy < 0 || iy >= g.H {
								continue
							}
							for kx := range g.KW {
								ix := ox*g.SW + kx - g.PW
								if ix < 0 || ix >= g.W {
									continue
								}
								a += xs[(c*g.H+iy)*g.W+ix] * w[((o*g.C+c)*g.KH+ky)*g.KW+kx]
							}
						}
					}
					if bias != nil {
						a += bias[o]
					}
					if relu {
						a = max(a, 0)
					}
					ys[(o*g.OH+oy)*g.OW+ox] = a
				}
			}
		}
	}
}

// Conv2DAffineRef is ConvAffiner.Conv2DAffine on the CPU: Conv2DRef, then each output
// channel o mapped to y·scale[o] + shift[o] (the product rounded before the sum, as
// package nn's batchnorm does), then max(·, 0) when reluAfter (NaN stays NaN, −0
// becomes +0, as package nn's relu).
func Conv2DAffineRef(y, x, w, bias []float32, n int, g ConvGeom, relu bool, scale, shift []float32, reluAfter bool) {
	Conv2DRef(y, x, w, bias, n, g, relu)
	plane := g.OH * g.OW
	for s := range n {
		for o := range g.OC {
			ys := y[(s*g.OC+o)*plane : (s*g.OC+o+1)*plane]
			for j, v := range ys {
				ys[j] = float32(v*scale[o]) + shift[o]
				if reluAfter {
					ys[j] = max(ys[j], 0)
				}
			}
		}
	}
}

// LinearHeadRef is LinearHeader.LinearHead on the CPU: LinearRef, then each output o
// mapped to y·Scale[o] + Shift[o] (rounded as package nn's batchnorm) and a relu when
// h.ReLU, then log_softmax over each sample's outputs (LogSoftmaxRef).
func LinearHeadRef(y, x, w, bias []float32, n, in, out int, relu bool, h Head) {
	LinearRef(y, x, w, bias, n, in, out, relu)
	for s := range n {
		ys := y[s*out : (s+1)*out]
		if h.Scale != nil {
			for o, v := range ys {
				ys[o] = float32(v*h.Scale[o]) + h.Shift[o]
				if h.ReLU {
					ys[o] = max(ys[o], 0)
				}
			}
		}
		if h.LogSoftmax {
			LogSoftmaxRef(ys)
		}
	}
}

// LogSoftmaxRef sets v to log_softmax(v), computed in float64 and rounded once, as
// package nn's log_softmax layer.
func LogSoftmaxRef(v []float32) {
	lse := logSumExp(v)
	for i, x := range v {
		v[i] = float32(float64(x) - lse)
	}
}

// logSumExp is log Σ exp(v[c]) in float64, as max + log Σ exp(v[c] − max).
func logSumExp(v []float32) float64 {
	mx := math.Inf(-1)
	for _, x := range v {
		mx = math.Max(mx, float64(x))
	}
	var sum float64
	for _, x := range v {
		sum += math.Exp(float64(x) - mx)
	}
	return mx + math.Log(sum)
}

// SafeForSubtraction reports whether float32 x − b is computed the same way by
// every IEEE implementation, flush-to-zero ones included, when both x and b pass: each
// is zero, or at least 2^-102 (so a nonzero difference is at least 2^-125, a normal
// number) and below 2^126 (so the difference cannot overflow, where WGSL leaves the
// result to the implementation) in magnitude.
func SafeForSubtraction(bits uint32) bool {
	e := bits >> 23 & 0xff
	if e == 0 {
		return bits&0x7fffffff == 0
	}
	return e >= 25 && e <= 252
}

// ExactUnitSumMode describes the scale of UnitSum in the form the exact kernels take:
// Div > 1 a whole divisor, else a multiplication by 2^MulExp. ok is false when the
// scale is neither (the kernel must decline).
func ExactUnitSumMode(div, mul float64) (d uint32, mulExp int32, ok bool) {
	if div != 0 {
		if div == 1 {
			return 1, 0, true
		}
		if div >= 2 && div <= 65535 && div == math.Trunc(div) {
			return uint32(div), 0, true
		}
		return 0, 0, false
	}
	frac, exp := math.Frexp(mul)
	if frac != 0.5 || exp-1 < -126 || exp-1 > 126 {
		return 0, 0, false
	}
	return 1, int32(exp - 1), true
}
