package nn

import (
	"math"
)

// A naive reference of every op, in float64 with plain loops over PyTorch's
// definitions, written independently of the engine (no im2col, no GEMM, no folding
// of constants). It runs one batch: x[i] is sample i, in the layout of its shape.

type refNet struct {
	arch   *Arch
	params map[string][]float64
	shapes map[string][]int
	train  bool // batchnorm uses batch statistics
}

func (r *refNet) p(name string) []float64 { return r.params[name] }

// forward returns the output of every sample and its shape.
func (r *refNet) forward(x [][]float64) ([][]float64, []int) {
	a := r.arch
	shape := append([]int(nil), a.InputShape...)
	// input_scale, then (x − mean)/std per channel (dimension 0).
	scale := a.InputScale
	if scale == 0 {
		scale = 1
	}
	cur := make([][]float64, len(x))
	inner := prod(shape) / shape[0]
	for i, s := range x {
		cur[i] = make([]float64, len(s))
		for j, v := range s {
			v *= scale
			if nz := a.Normalize; nz != nil {
				c := j / inner
				v = (v - pick(nz.Mean, c)) / pick(nz.Std, c)
			}
			cur[i][j] = v
		}
	}
	for li := range a.Layers {
		cur, shape = r.layer(&a.Layers[li], cur, shape)
	}
	return cur, shape
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func (r *refNet) layer(l *Layer, x [][]float64, shape []int) ([][]float64, []int) {
	out := make([][]float64, len(x))
	switch l.Op {
	case OpLinear:
		w := r.p(l.Name + ".weight")
		o, in := r.shapes[l.Name+".weight"][0], shape[0]
		for i, s := range x {
			y := make([]float64, o)
			for a := range o {
				sum := 0.0
				if l.hasBias() {
					sum = r.p(l.Name + ".bias")[a]
				}
				for b := range in {
					sum += w[a*in+b] * s[b]
				}
				y[a] = sum
			}
			out[i] = y
		}
		return out, []int{o}
	case OpConv2d:
		ws := r.shapes[l.Name+".weight"]
		w := r.p(l.Name + ".weight")
		oc, c, kh, kw := ws[0], ws[1], ws[2], ws[3]
		h, wd := shape[1], shape[2]
		st, pd := l.stride2(), l.Padding
		oh, ow := (h+2*pd[0]-kh)/st[0]+1, (wd+2*pd[1]-kw)/st[1]+1
		for i, s := range x {
			y := make([]float64, oc*oh*ow)
			for o := range oc {
				for oy := range oh {
					for ox := range ow {
						sum := 0.0
						if l.hasBias() {
							sum = r.p(l.Name + ".bias")[o]
						}
						for ci := range c {
							for ki := range kh {
								for kj := range kw {
									iy, ix := oy*st[0]-pd[0]+ki, ox*st[1]-pd[1]+kj
									if iy < 0 || iy >= h || ix < 0 || ix >= wd {
										continue
									}
									sum += w[((o*c+ci)*kh+ki)*kw+kj] * s[(ci*h+iy)*wd+ix]
								}
							}
						}
						y[(o*oh+oy)*ow+ox] = sum
					}
				}
			}
			out[i] = y
		}
		return out, []int{oc, oh, ow}
	case OpBatchnorm:
		c := shape[0]
		inner := prod(shape) / c
		eps := l.eps()
		for i := range x {
			out[i] = make([]float64, len(x[i]))
		}
		for ch := range c {
			mean := r.p(l.Name + ".running_mean")[ch]
			vr := r.p(l.Name + ".running_var")[ch]
			if r.train {
				mean, vr = 0, 0
				n := 0
				for _, s := range x {
					for j := range inner {
						mean += s[ch*inner+j]
						n++
					}
				}
				mean /= float64(n)
				for _, s := range x {
					for j := range inner {
						d := s[ch*inner+j] - mean
						vr += d * d
					}
				}
				vr /= float64(n)
			}
			g, b := 1.0, 0.0
			if l.isAffine() {
				g, b = r.p(l.Name + ".weight")[ch], r.p(l.Name + ".bias")[ch]
			}
			for i, s := range x {
				for j := range inner {
					out[i][ch*inner+j] = (s[ch*inner+j]-mean)/math.Sqrt(vr+eps)*g + b
				}
			}
		}
		return out, shape
	case OpReLU, OpGELU, OpTanh, OpSigmoid:
		for i, s := range x {
			y := make([]float64, len(s))
			for j, v := range s {
				switch l.Op {
				case OpReLU:
					y[j] = math.Max(v, 0)
				case OpGELU:
					y[j] = v * 0.5 * (1 + math.Erf(v/math.Sqrt(2)))
				case OpTanh:
					y[j] = math.Tanh(v)
				case OpSigmoid:
					y[j] = 1 / (1 + math.Exp(-v))
				}
			}
			out[i] = y
		}
		return out, shape
	case OpMaxPool2d, OpAvgPool2d:
		c, h, wd := shape[0], shape[1], shape[2]
		k, st, pd := l.Kernel, l.stride2(), l.Padding
		oh, ow := (h+2*pd[0]-k[0])/st[0]+1, (wd+2*pd[1]-k[1])/st[1]+1
		for i, s := range x {
			y := make([]float64, c*oh*ow)
			for ch := range c {
				for oy := range oh {
					for ox := range ow {
						best, sum := math.Inf(-1), 0.0
						for ki := range k[0] {
							for kj := range k[1] {
								iy, ix := oy*st[0]-pd[0]+ki, ox*st[1]-pd[1]+kj
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue // −Inf for max, 0 for avg
								}
								v := s[(ch*h+iy)*wd+ix]
								best = math.Max(best, v)
								sum += v
							}
						}
						if l.Op == OpMaxPool2d {
							y[(ch*oh+oy)*ow+ox] = best
						} else {
							y[(ch*oh+oy)*ow+ox] = sum / float64(k[0]*k[1])
						}
					}
				}
			}
			out[i] = y
		}
		return out, []int{c, oh, ow}
	case OpFlatten:
		return x, []int{prod(shape)}
	case OpDropout:
		return x, shape
	case OpSoftmax, OpLogSoftmax:
		c := shape[0]
		inner := prod(shape) / c
		for i, s := range x {
			y := make([]float64, len(s))
			for j := range inner {
				sum := 0.0
				for ch := range c {
					sum += math.Exp(s[ch*inner+j])
				}
				for ch := range c {
					if l.Op == OpSoftmax {
						y[ch*inner+j] = math.Exp(s[ch*inner+j]) / sum
					} else {
						y[ch*inner+j] = s[ch*inner+j] - math.Log(sum)
					}
				}
			}
			out[i] = y
		}
		return out, shape
	}
	panic("reference: unknown op " + l.Op)
}
