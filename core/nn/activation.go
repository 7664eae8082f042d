package nn

import "math"

// activation is an element-wise function: relu, gelu (the exact erf form, PyTorch's
// default), tanh or sigmoid.
type activation struct {
	layerBase
	op string
}

func newActivation(op string, in []int) *activation {
	return &activation{layerBase: layerBase{out: in}, op: op}
}

func (*activation) inPlace() {}

func (l *activation) forward(dst, src []float32, n int, s *scratch) {
	src, dst = src[:n*l.inN], dst[:n*l.inN]
	switch l.op {
	case OpReLU:
		for i, v := range src {
			if v > 0 || v != v { // NaN passes through, as in PyTorch
				dst[i] = v
			} else {
				dst[i] = 0
			}
		}
	case OpGELU:
		erf := erfOf(s)
		for i, v := range src {
			x := float64(v)
			dst[i] = float32(0.5 * x * (1 + erf(x/math.Sqrt2)))
		}
	case OpTanh:
		tanh := tanhOf(s)
		for i, v := range src {
			dst[i] = float32(tanh(float64(v)))
		}
	case OpSigmoid:
		exp, _ := expLog(s)
		for i, v := range src {
			dst[i] = float32(sigmoidWith(exp, float64(v)))
		}
	}
}

func sigmoidWith(exp func(float64) float64, x float64) float64 {
	if x >= 0 {
		return 1 / (1 + exp(-x))
	}
	e := exp(x) // no overflow for very negative x
	return e / (1 + e)
}

// invSqrt2Pi is 1/√(2π), the standard normal density's constant.
const invSqrt2Pi = 0.3989422804014327

func (l *activation) backward(c *backCtx) {
	if c.dsrc == nil {
		return
	}
	c.parallel(c.n*l.inN, 4096, func(w, lo, hi int) {
		x, y, dy, dx := c.src[lo:hi], c.dst[lo:hi], c.ddst[lo:hi], c.dsrc[lo:hi]
		switch l.op {
		case OpReLU:
			for i, v := range x {
				if v > 0 {
					dx[i] = dy[i]
				} else {
					dx[i] = 0
				}
			}
		case OpGELU: // d/dx x·Φ(x) = Φ(x) + x·φ(x)
			erf := erfOf(c.scratch(w))
			exp, _ := expLog(c.scratch(w))
			for i, v := range x {
				t := float64(v)
				cdf := float64(0.5 * (1 + erf(t/math.Sqrt2))) // rounded: the sum below may not fuse it
				pdf := invSqrt2Pi * exp(-0.5*t*t)
				dx[i] = float32(float64(dy[i]) * (cdf + float64(t*pdf))) // no FMA
			}
		case OpTanh:
			for i, v := range y {
				dx[i] = float32(float64(dy[i]) * (1 - float64(float64(v)*float64(v))))
			}
		case OpSigmoid:
			for i, v := range y {
				dx[i] = float32(float64(dy[i]) * float64(v) * (1 - float64(v)))
			}
		}
	})
}
