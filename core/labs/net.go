package labs

import (
	"fmt"
	"math"

	"ladle/core/nn"
)

// The labs train their networks with the code of this file rather than with package
// nn, whose products go through CPU-specific kernels (its AVX/FMA assembly, gonum's
// SIMD routines): fine for inference, but their last bits differ from machine to
// machine, and a trainer amplifies last bits into different checkpoints. Here every
// sum runs in a fixed order in plain Go and every product is rounded before it is
// added (see mathx.go), so a lab's files are the same bytes on any platform. The
// networks are the small ones the labs need: linear, 3×3 convolutions with padding 1,
// relu, 2×2 max pooling and flatten, described by the same ARCH.json as package nn
// reads, and with its tensor names and layouts, so that package nn evaluates the
// checkpoints written here (the tests check that it agrees).

// layerSpec describes one layer of a network to build: op is an nn op (linear, conv2d,
// relu, maxpool2d, flatten); out is the output features (linear) or channels (conv2d).
type layerSpec struct {
	op   string
	name string
	out  int
}

func linear(name string, out int) layerSpec { return layerSpec{op: nn.OpLinear, name: name, out: out} }
func conv(name string, out int) layerSpec   { return layerSpec{op: nn.OpConv2d, name: name, out: out} }
func relu() layerSpec                       { return layerSpec{op: nn.OpReLU} }
func maxpool() layerSpec                    { return layerSpec{op: nn.OpMaxPool2d} }
func flatten() layerSpec                    { return layerSpec{op: nn.OpFlatten} }

// archSpec is a network's shape: its input and layers. Inputs are raw values
// (digits: 0..16) multiplied by scale.
type archSpec struct {
	input  []int // [features] or [channels, height, width]
	scale  float64
	layers []layerSpec
}

// Arch is the ARCH.json of the network.
func (s archSpec) Arch() *nn.Arch {
	a := &nn.Arch{InputShape: append([]int(nil), s.input...), InputScale: s.scale}
	for _, l := range s.layers {
		nl := nn.Layer{Op: l.op, Name: l.name}
		switch l.op {
		case nn.OpConv2d:
			nl.Kernel, nl.Padding = nn.P2(3), nn.P2(1)
		case nn.OpMaxPool2d:
			nl.Kernel = nn.P2(2)
		}
		a.Layers = append(a.Layers, nl)
	}
	return a
}

// param is one tensor of a network, in PyTorch's layout.
type param struct {
	name  string
	shape []int
	data  []float32
	grad  []float32
	mom   []float32
	decay bool // weight decay applies (weights, not biases)
	fanIn int
}

type layer struct {
	op         string
	name       string
	c, h, w    int // input: channels (features for linear), height, width
	co, ho, wo int // output
	inN, outN  int // values per sample
	wt, bias   *param
}

// net is a network being trained or evaluated.
type net struct {
	spec   archSpec
	scale  float32
	layers []*layer
	params []*param
}

// newNet builds a network of the given shape with zero weights.
func newNet(s archSpec) (*net, error) {
	n := &net{spec: s, scale: float32(s.scale)}
	if n.scale == 0 {
		n.scale = 1
	}
	c, h, w := 1, 1, 1
	switch len(s.input) {
	case 1:
		c = s.input[0]
	case 3:
		c, h, w = s.input[0], s.input[1], s.input[2]
	default:
		return nil, fmt.Errorf("labs: input shape %v: want [features] or [channels, height, width]", s.input)
	}
	for _, ls := range s.layers {
		l := &layer{op: ls.op, name: ls.name, c: c, h: h, w: w, inN: c * h * w}
		switch ls.op {
		case nn.OpLinear:
			l.c, l.h, l.w, l.inN = c*h*w, 1, 1, c*h*w
			l.co, l.ho, l.wo = ls.out, 1, 1
			l.wt = n.addParam(ls.name+".weight", []int{ls.out, l.inN}, true, l.inN)
			l.bias = n.addParam(ls.name+".bias", []int{ls.out}, false, l.inN)
		case nn.OpConv2d:
			if len(s.input) != 3 {
				return nil, fmt.Errorf("labs: conv2d %q needs an image input", ls.name)
			}
			l.co, l.ho, l.wo = ls.out, h, w
			l.wt = n.addParam(ls.name+".weight", []int{ls.out, c, 3, 3}, true, c*9)
			l.bias = n.addParam(ls.name+".bias", []int{ls.out}, false, c*9)
		case nn.OpReLU, nn.OpFlatten:
			l.co, l.ho, l.wo = c, h, w
		case nn.OpMaxPool2d:
			l.co, l.ho, l.wo = c, h/2, w/2
		default:
			return nil, fmt.Errorf("labs: op %q is not supported by the trainer", ls.op)
		}
		l.outN = l.co * l.ho * l.wo
		c, h, w = l.co, l.ho, l.wo
		if ls.op == nn.OpLinear {
			h, w = 1, 1
		}
		n.layers = append(n.layers, l)
	}
	return n, nil
}

func (n *net) addParam(name string, shape []int, decay bool, fanIn int) *param {
	size := 1
	for _, d := range shape {
		size *= d
	}
	p := &param{name: name, shape: shape, data: make([]float32, size), grad: make([]float32, size),
		mom: make([]float32, size), decay: decay, fanIn: fanIn}
	n.params = append(n.params, p)
	return p
}

func (n *net) inSize() int  { return n.layers[0].inN }
func (n *net) outSize() int { return n.layers[len(n.layers)-1].outN }

// init draws the weights as PyTorch's default initialisation of linear and conv2d
// layers does (uniform on ±1/√fan_in, weights and biases alike), from a stream of
// the seed.
func (n *net) init(seed uint64) {
	g := newRNG(seed, "init")
	for _, p := range n.params {
		bound := 1 / math.Sqrt(float64(p.fanIn))
		for i := range p.data {
			p.data[i] = float32(g.uniform(-bound, bound))
		}
	}
}

// tensors returns the network's weights as nn tensors (copies).
func (n *net) tensors() map[string]nn.Tensor {
	out := make(map[string]nn.Tensor, len(n.params))
	for _, p := range n.params {
		out[p.name] = nn.Tensor{Shape: append([]int(nil), p.shape...), Data: append([]float32(nil), p.data...)}
	}
	return out
}

// load copies weights into the network; every tensor must be present with its shape.
func (n *net) load(ts map[string]nn.Tensor) error {
	for _, p := range n.params {
		t, ok := ts[p.name]
		if !ok {
			return fmt.Errorf("labs: tensor %q is missing", p.name)
		}
		if len(t.Data) != len(p.data) {
			return fmt.Errorf("labs: tensor %q holds %d values, want %d", p.name, len(t.Data), len(p.data))
		}
		copy(p.data, t.Data)
	}
	return nil
}

// pass holds the activations of one batch.
type pass struct {
	n     int
	acts  [][]float32 // acts[0]: the scaled input; acts[i+1]: layer i's output
	cols  [][]float32 // per conv layer and sample: im2col matrices (training only)
	pools [][]int32   // per maxpool layer: the argmax of each output
	train bool
}

// forward runs a batch of raw inputs; keep records what backward needs.
func (n *net) forward(x []float32, batch int, keep bool) *pass {
	p := &pass{n: batch, acts: make([][]float32, len(n.layers)+1), cols: make([][]float32, len(n.layers)),
		pools: make([][]int32, len(n.layers)), train: keep}
	in := make([]float32, len(x))
	for i, v := range x {
		in[i] = v * n.scale
	}
	p.acts[0] = in
	for i, l := range n.layers {
		src := p.acts[i]
		dst := make([]float32, batch*l.outN)
		switch l.op {
		case nn.OpLinear:
			linearForward(l, src, dst, batch)
		case nn.OpConv2d:
			p.cols[i] = convForward(l, src, dst, batch, keep)
		case nn.OpReLU:
			for j, v := range src {
				dst[j] = max(v, 0)
			}
		case nn.OpMaxPool2d:
			p.pools[i] = poolForward(l, src, dst, batch)
		case nn.OpFlatten:
			copy(dst, src)
		}
		p.acts[i+1] = dst
	}
	return p
}

func (p *pass) output() []float32 { return p.acts[len(p.acts)-1] }

// backward adds the parameter gradients of the loss whose gradient with respect to
// the output is dout.
func (n *net) backward(p *pass, dout []float32) {
	d := dout
	for i := len(n.layers) - 1; i >= 0; i-- {
		l := n.layers[i]
		src, dst := p.acts[i], p.acts[i+1]
		var dsrc []float32
		if i > 0 {
			dsrc = make([]float32, p.n*l.inN)
		}
		switch l.op {
		case nn.OpLinear:
			linearBackward(l, src, d, dsrc, p.n)
		case nn.OpConv2d:
			convBackward(l, p.cols[i], d, dsrc, p.n)
		case nn.OpReLU:
			if dsrc != nil {
				for j, v := range dst {
					if v > 0 {
						dsrc[j] = d[j]
					}
				}
			}
		case nn.OpMaxPool2d:
			if dsrc != nil {
				for j, at := range p.pools[i] {
					dsrc[at] += d[j]
				}
			}
		case nn.OpFlatten:
			if dsrc != nil {
				copy(dsrc, d)
			}
		}
		d = dsrc
	}
}

// dot is Σ a[i]·b[i] with each product rounded to float32 before it is added, in a
// fixed order: four running sums over i mod 4 (which keeps four additions in flight),
// then (s0 + s1) + (s2 + s3), then the tail in index order.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += float32(a[i] * b[i])
		s1 += float32(a[i+1] * b[i+1])
		s2 += float32(a[i+2] * b[i+2])
		s3 += float32(a[i+3] * b[i+3])
	}
	s := (s0 + s1) + (s2 + s3)
	for ; i < len(a); i++ {
		s += float32(a[i] * b[i])
	}
	return s
}

// axpy sets y[i] += alpha·x[i], each product rounded to float32 before it is added.
func axpy(y []float32, alpha float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += float32(alpha * x[i])
	}
}

func linearForward(l *layer, src, dst []float32, batch int) {
	w, b := l.wt.data, l.bias.data
	for s := range batch {
		x := src[s*l.inN : (s+1)*l.inN]
		y := dst[s*l.outN : (s+1)*l.outN]
		for o := range y {
			y[o] = dot(w[o*l.inN:(o+1)*l.inN], x) + b[o]
		}
	}
}

func linearBackward(l *layer, src, dy, dx []float32, batch int) {
	w, gw, gb := l.wt.data, l.wt.grad, l.bias.grad
	for s := range batch {
		x := src[s*l.inN : (s+1)*l.inN]
		d := dy[s*l.outN : (s+1)*l.outN]
		for o, v := range d {
			if v == 0 {
				continue // a zero gradient adds nothing (inactive relu units): skip the work
			}
			gb[o] += v
			axpy(gw[o*l.inN:(o+1)*l.inN], v, x)
			if dx != nil {
				axpy(dx[s*l.inN:(s+1)*l.inN], v, w[o*l.inN:(o+1)*l.inN])
			}
		}
	}
}

// im2col writes the 3×3, padding-1 columns of one sample: cols[(c·9 + ky·3 + kx)·hw + y·w + x]
// = in[c][y+ky−1][x+kx−1] (0 outside).
func im2col(l *layer, in, cols []float32) {
	hw := l.h * l.w
	for c := range l.c {
		plane := in[c*hw : (c+1)*hw]
		for ky := range 3 {
			for kx := range 3 {
				row := cols[(c*9+ky*3+kx)*hw : (c*9+ky*3+kx+1)*hw]
				for y := range l.h {
					sy := y + ky - 1
					for x := range l.w {
						sx := x + kx - 1
						if sy < 0 || sy >= l.h || sx < 0 || sx >= l.w {
							row[y*l.w+x] = 0
						} else {
							row[y*l.w+x] = plane[sy*l.w+sx]
						}
					}
				}
			}
		}
	}
}

// convForward computes out[co][p] = Σ_k W[co][k]·cols[k][p] (k in order) + bias[co].
// With keep, it returns every sample's columns for backward.
func convForward(l *layer, src, dst []float32, batch int, keep bool) []float32 {
	hw, k := l.h*l.w, l.c*9
	var all []float32
	if keep {
		all = make([]float32, batch*k*hw)
	}
	cols := make([]float32, k*hw)
	w, b := l.wt.data, l.bias.data
	for s := range batch {
		if keep {
			cols = all[s*k*hw : (s+1)*k*hw]
		}
		im2col(l, src[s*l.inN:(s+1)*l.inN], cols)
		out := dst[s*l.outN : (s+1)*l.outN]
		for co := range l.co {
			row := out[co*hw : (co+1)*hw]
			clear(row)
			for j, wv := range w[co*k : (co+1)*k] {
				axpy(row, wv, cols[j*hw:(j+1)*hw])
			}
			for i := range row {
				row[i] += b[co]
			}
		}
	}
	return all
}

func convBackward(l *layer, all, dy, dx []float32, batch int) {
	hw, k := l.h*l.w, l.c*9
	w, gw, gb := l.wt.data, l.wt.grad, l.bias.grad
	dcols := make([]float32, k*hw)
	for s := range batch {
		cols := all[s*k*hw : (s+1)*k*hw]
		d := dy[s*l.outN : (s+1)*l.outN]
		for co := range l.co {
			dco := d[co*hw : (co+1)*hw]
			var sb float32
			for _, v := range dco {
				sb += v
			}
			gb[co] += sb
			g := gw[co*k : (co+1)*k]
			for j := range g {
				g[j] += dot(dco, cols[j*hw:(j+1)*hw])
			}
		}
		if dx == nil {
			continue
		}
		clear(dcols)
		for co := range l.co {
			dco := d[co*hw : (co+1)*hw]
			for j, wv := range w[co*k : (co+1)*k] {
				axpy(dcols[j*hw:(j+1)*hw], wv, dco)
			}
		}
		// col2im: the transpose of im2col, summed in a fixed order.
		in := dx[s*l.inN : (s+1)*l.inN]
		for c := range l.c {
			plane := in[c*hw : (c+1)*hw]
			for ky := range 3 {
				for kx := range 3 {
					row := dcols[(c*9+ky*3+kx)*hw : (c*9+ky*3+kx+1)*hw]
					for y := range l.h {
						sy := y + ky - 1
						if sy < 0 || sy >= l.h {
							continue
						}
						for x := range l.w {
							sx := x + kx - 1
							if sx >= 0 && sx < l.w {
								plane[sy*l.w+sx] += row[y*l.w+x]
							}
						}
					}
				}
			}
		}
	}
}

// poolForward is 2×2 max pooling with stride 2 (floor mode); it returns, for each
// output, the index of the input it took (the first maximum, in row-major order).
func poolForward(l *layer, src, dst []float32, batch int) []int32 {
	at := make([]int32, len(dst))
	for s := range batch {
		for c := range l.c {
			base := s*l.inN + c*l.h*l.w
			for y := range l.ho {
				for x := range l.wo {
					best := base + 2*y*l.w + 2*x
					for _, off := range [4]int{0, 1, l.w, l.w + 1} {
						i := base + 2*y*l.w + 2*x + off
						if src[i] > src[best] {
							best = i
						}
					}
					o := s*l.outN + c*l.ho*l.wo + y*l.wo + x
					dst[o] = src[best]
					at[o] = int32(best)
				}
			}
		}
	}
	return at
}
