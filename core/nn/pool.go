package nn

import (
	"fmt"
	"math"
)

// pool is maxpool2d or avgpool2d over each channel (PyTorch's defaults: floor mode,
// dilation 1; maxpool pads with −Inf and propagates NaN; avgpool counts the padding,
// so every window divides by kh·kw).
type pool struct {
	layerBase
	isMax          bool
	c, h, w        int
	kh, kw         int
	sh, sw, ph, pw int
	oh, ow         int
}

func newPool(b *builder, in []int) (layer, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("needs a [channels, height, width] input, got shape %s", shapeString(in))
	}
	k, st, pad := b.layer.Kernel, b.layer.stride2(), b.layer.Padding
	l := &pool{isMax: b.layer.Op == OpMaxPool2d, c: in[0], h: in[1], w: in[2],
		kh: k[0], kw: k[1], sh: st[0], sw: st[1], ph: pad[0], pw: pad[1]}
	l.oh, l.ow = poolOut(l.h, l.kh, l.sh, l.ph), poolOut(l.w, l.kw, l.sw, l.pw)
	if l.oh <= 0 || l.ow <= 0 {
		return nil, fmt.Errorf("a %v kernel (padding %v) does not fit the %dx%d input", k, pad, l.h, l.w)
	}
	l.out = []int{l.c, l.oh, l.ow}
	return l, nil
}

// window clips the window of output (oy, ox) to the input: rows [y0, y1), columns [x0, x1).
func (l *pool) window(oy, ox int) (y0, y1, x0, x1 int) {
	y0, x0 = oy*l.sh-l.ph, ox*l.sw-l.pw
	y1, x1 = min(y0+l.kh, l.h), min(x0+l.kw, l.w)
	return max(y0, 0), y1, max(x0, 0), x1
}

// argmax is the index in plane of the window's maximum: the first one in row-major
// order, or the first NaN. -1 when the window lies wholly in the padding.
func (l *pool) argmax(plane []float32, oy, ox int) int {
	y0, y1, x0, x1 := l.window(oy, ox)
	best, at := float32(math.Inf(-1)), -1
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			v := plane[y*l.w+x]
			if v != v {
				return y*l.w + x
			}
			if at < 0 || v > best {
				best, at = v, y*l.w+x
			}
		}
	}
	return at
}

func (l *pool) forward(dst, src []float32, n int, s *scratch) {
	inv := float32(1 / float64(l.kh*l.kw))
	for i := range n * l.c {
		plane := src[i*l.h*l.w : (i+1)*l.h*l.w]
		out := dst[i*l.oh*l.ow : (i+1)*l.oh*l.ow]
		for oy := range l.oh {
			for ox := range l.ow {
				if l.isMax {
					if at := l.argmax(plane, oy, ox); at >= 0 {
						out[oy*l.ow+ox] = plane[at]
					} else {
						out[oy*l.ow+ox] = float32(math.Inf(-1))
					}
					continue
				}
				y0, y1, x0, x1 := l.window(oy, ox)
				var sum float32
				for y := y0; y < y1; y++ {
					for _, v := range plane[y*l.w+x0 : y*l.w+x1] {
						sum += v
					}
				}
				out[oy*l.ow+ox] = sum * inv
			}
		}
	}
}

func (l *pool) backward(c *backCtx) {
	if c.dsrc == nil {
		return
	}
	inv := float32(1 / float64(l.kh*l.kw))
	c.parallel(c.n*l.c, backChunk*l.c, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			plane := c.src[i*l.h*l.w : (i+1)*l.h*l.w]
			dx := c.dsrc[i*l.h*l.w : (i+1)*l.h*l.w]
			dy := c.ddst[i*l.oh*l.ow : (i+1)*l.oh*l.ow]
			clear(dx)
			for oy := range l.oh {
				for ox := range l.ow {
					g := dy[oy*l.ow+ox]
					if l.isMax {
						if at := l.argmax(plane, oy, ox); at >= 0 {
							dx[at] += g
						}
						continue
					}
					y0, y1, x0, x1 := l.window(oy, ox)
					for y := y0; y < y1; y++ {
						row := dx[y*l.w+x0 : y*l.w+x1]
						for j := range row {
							row[j] += float32(g * inv) // no FMA
						}
					}
				}
			}
		}
	})
}
