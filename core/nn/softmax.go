package nn

import "math"

// softmax is softmax or log_softmax over a sample's first dimension (PyTorch's dim=1
// of the batched tensor): over the classes of a [classes] output, over the channels
// at each position of a [C, H, W] one. Sums run in float64.
type softmax struct {
	layerBase
	log   bool
	c     int // the dimension normalised over
	inner int // positions per channel
}

func newSoftmax(log bool, in []int) *softmax {
	return &softmax{layerBase: layerBase{out: in}, log: log, c: in[0], inner: numel(in) / in[0]}
}

func (*softmax) inPlace() {}

func (l *softmax) forward(dst, src []float32, n int, s *scratch) {
	exp, log := expLog(s)
	for i := range n {
		x, y := src[i*l.inN:(i+1)*l.inN], dst[i*l.inN:(i+1)*l.inN]
		for j := range l.inner {
			mx := math.Inf(-1)
			for c := range l.c {
				mx = math.Max(mx, float64(x[c*l.inner+j]))
			}
			var sum float64
			for c := range l.c {
				sum += exp(float64(x[c*l.inner+j]) - mx)
			}
			if l.log {
				lse := mx + log(sum)
				for c := range l.c {
					y[c*l.inner+j] = float32(float64(x[c*l.inner+j]) - lse)
				}
				continue
			}
			for c := range l.c {
				y[c*l.inner+j] = float32(exp(float64(x[c*l.inner+j])-mx) / sum)
			}
		}
	}
}

// backward: for softmax dx = y·(dy − Σ dy·y); for log_softmax dx = dy − eʸ·Σ dy.
func (l *softmax) backward(c *backCtx) {
	if c.dsrc == nil {
		return
	}
	c.parallel(c.n, backChunk, func(w, lo, hi int) {
		exp, _ := expLog(c.scratch(w))
		for i := lo; i < hi; i++ {
			y := c.dst[i*l.inN : (i+1)*l.inN]
			dy := c.ddst[i*l.inN : (i+1)*l.inN]
			dx := c.dsrc[i*l.inN : (i+1)*l.inN]
			for j := range l.inner {
				var s float64
				for k := range l.c {
					at := k*l.inner + j
					if l.log {
						s += float64(dy[at])
					} else {
						s += float64(float64(dy[at]) * float64(y[at])) // no FMA
					}
				}
				for k := range l.c {
					at := k*l.inner + j
					if l.log {
						dx[at] = float32(float64(dy[at]) - float64(exp(float64(y[at]))*s))
					} else {
						dx[at] = float32(float64(y[at]) * (float64(dy[at]) - s))
					}
				}
			}
		}
	})
}
