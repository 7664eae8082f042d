package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"ladle/core/compute"
)

// refForwarder runs compute's CPU references through the Forwarder seam and counts
// the calls, as a device backend would be called.
type refForwarder struct{ linear, conv int }

func (f *refForwarder) Linear(y, x, w, bias []float32, n, in, out int, relu bool) bool {
	f.linear++
	compute.LinearRef(y, x, w, bias, n, in, out, relu)
	return true
}

func (f *refForwarder) Conv2D(y, x, w, bias []float32, n int, g compute.ConvGeom, relu bool) bool {
	f.conv++
	compute.Conv2DRef(y, x, w, bias, n, g, relu)
	return true
}

// affineForwarder is refForwarder that also takes a convolution's following
// batchnorm (compute.ConvAffiner), as the WebGPU backend does.
type affineForwarder struct {
	refForwarder
	affine, reluAfter int
}

func (f *affineForwarder) Conv2DAffine(y, x, w, bias []float32, n int, g compute.ConvGeom, relu bool, scale, shift []float32, reluAfter bool) bool {
	f.conv++
	f.affine++
	if reluAfter {
		f.reluAfter++
	}
	compute.Conv2DAffineRef(y, x, w, bias, n, g, relu, scale, shift, reluAfter)
	return true
}

// throughSeam builds case c's model from seeded random tensors, runs n random
// samples on the CPU and through f, and fails unless the two agree to float32
// rounding. It returns the model, for the caller's count of what f should have seen.
func throughSeam(t *testing.T, c opCase, f compute.Forwarder, seed uint64, n int) *Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	t32, _ := randomTensors(rng, c.shapes, 0.5)
	m, err := NewModel(mustArch(t, c.arch), t32)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, n*m.InputSize())
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	want, _ := m.Forward(x, n)
	m.SetForwarder(f)
	got, _ := m.Forward(x, n)
	m.SetForwarder(nil)
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s: output %d: seam %v, CPU %v", c.name, i, got[i], want[i])
		}
	}
	return m
}

// headForwarder is refForwarder that also takes what follows a linear layer
// (compute.LinearHeader), as the WebGPU backend does.
type headForwarder struct {
	refForwarder
	heads, bn, logSoftmax int
}

func (f *headForwarder) LinearHead(y, x, w, bias []float32, n, in, out int, relu bool, h compute.Head) bool {
	f.linear++
	f.heads++
	if h.Scale != nil {
		f.bn++
	}
	if h.LogSoftmax {
		f.logSoftmax++
	}
	compute.LinearHeadRef(y, x, w, bias, n, in, out, relu, h)
	return true
}

// TestLinearHeaderSeam: with a backend that computes a linear layer's head in its
// pass, each linear layer followed (past dropout and flatten) by a batchnorm or a
// log_softmax goes through it once with them, and the outputs are the CPU path's to
// float32 rounding.
func TestLinearHeaderSeam(t *testing.T) {
	var heads, bns, lsms int
	for _, c := range opCases {
		f := &headForwarder{}
		m := throughSeam(t, c, f, 17, 11)
		// what the seam should have seen, from the layers themselves
		wantHeads, wantBN, wantLSM := 0, 0, 0
		for i, l := range m.layers {
			ln, ok := l.(*linear)
			if !ok {
				continue
			}
			j, head := nextValueLayer(m.layers, i+1), false
			if j < len(m.layers) {
				if a, ok := m.layers[j].(*activation); ok && a.op == OpReLU {
					j = nextValueLayer(m.layers, j+1) // the layer's own relu
				}
			}
			if j < len(m.layers) {
				if bn, ok := m.layers[j].(*batchnorm); ok && bn.c == ln.oF {
					wantBN, head = wantBN+1, true
					if j = nextValueLayer(m.layers, j+1); j < len(m.layers) {
						if a, ok := m.layers[j].(*activation); ok && a.op == OpReLU {
							j = nextValueLayer(m.layers, j+1)
						}
					}
				}
			}
			if j < len(m.layers) {
				if sm, ok := m.layers[j].(*softmax); ok && sm.log {
					wantLSM, head = wantLSM+1, true
				}
			}
			if head {
				wantHeads++
			}
		}
		if f.heads != wantHeads || f.bn != wantBN || f.logSoftmax != wantLSM {
			t.Errorf("%s: %d heads (%d batchnorms, %d log_softmax) through the seam, want %d (%d, %d)", c.name, f.heads, f.bn, f.logSoftmax, wantHeads, wantBN, wantLSM)
		}
		heads, bns, lsms = heads+f.heads, bns+f.bn, lsms+f.logSoftmax
	}
	if bns < 2 || lsms < 2 {
		t.Errorf("the cases fused %d batchnorms and %d log_softmax after linear layers: the test needs cases of both", bns, lsms)
	}
	t.Logf("%d linear heads, %d with a batchnorm, %d with a log_softmax", heads, bns, lsms)
}

// actForwarder is refForwarder that also applies gelu, tanh and sigmoid in a layer's
// pass (compute.Activator) with the GPU's algorithm (compute.ActF32), as the WebGPU
// backend does.
type actForwarder struct {
	refForwarder
	acts map[compute.Act]int
}

func (f *actForwarder) LinearAct(y, x, w, bias []float32, n, in, out int, act compute.Act) bool {
	f.linear++
	compute.LinearRef(y, x, w, bias, n, in, out, false)
	f.apply(y, act)
	return true
}

func (f *actForwarder) Conv2DAct(y, x, w, bias []float32, n int, g compute.ConvGeom, act compute.Act) bool {
	f.conv++
	compute.Conv2DRef(y, x, w, bias, n, g, false)
	f.apply(y, act)
	return true
}

func (f *actForwarder) apply(y []float32, act compute.Act) {
	f.acts[act]++
	for i, v := range y {
		y[i] = compute.ActF32(act, v, compute.IEEEF32)
	}
}

// TestActivatorSeam: with a backend that applies gelu, tanh and sigmoid in the pass of
// the linear layer or convolution before them, each such pair goes through it once
// (and no other), and the outputs are the CPU path's to float32 rounding.
func TestActivatorSeam(t *testing.T) {
	total := map[compute.Act]int{}
	for _, c := range opCases {
		f := &actForwarder{acts: map[compute.Act]int{}}
		m := throughSeam(t, c, f, 19, 7)
		wantActs := map[compute.Act]int{}
		for i, l := range m.layers[:len(m.layers)-1] {
			switch l.(type) {
			case *linear, *conv:
				if a, ok := m.layers[i+1].(*activation); ok && a.kind() != 0 {
					wantActs[a.kind()]++
				}
			}
		}
		for _, a := range []compute.Act{compute.GELU, compute.Tanh, compute.Sigmoid} {
			if f.acts[a] != wantActs[a] {
				t.Errorf("%s: %d %s passes through the seam, want %d", c.name, f.acts[a], a, wantActs[a])
			}
			total[a] += f.acts[a]
		}
	}
	for _, a := range []compute.Act{compute.GELU, compute.Tanh, compute.Sigmoid} {
		if total[a] == 0 {
			t.Errorf("no case has a %s after a linear layer or convolution", a)
		}
	}
}

// TestConvAffinerSeam: with a backend that applies a convolution's batchnorm in its
// own pass, every convolution followed by a batchnorm goes through it once, with the
// relu after the batchnorm when there is one, and the outputs are the CPU path's to
// float32 rounding.
func TestConvAffinerSeam(t *testing.T) {
	fused, fusedReLU := 0, 0
	for _, c := range opCases {
		f := &affineForwarder{}
		m := throughSeam(t, c, f, 13, 9)
		bnAfterConv, reluAfterBN := 0, 0
		for i, l := range m.layers[:len(m.layers)-1] {
			if cv, ok := l.(*conv); ok {
				if bn, ok := m.layers[i+1].(*batchnorm); ok && bn.c == cv.oc {
					bnAfterConv++
					if i+2 < len(m.layers) {
						if a, ok := m.layers[i+2].(*activation); ok && a.op == OpReLU {
							reluAfterBN++
						}
					}
				}
			}
		}
		if f.affine != bnAfterConv || f.reluAfter != reluAfterBN {
			t.Errorf("%s: %d convolutions with their batchnorm through the seam (%d with its relu), want %d (%d)", c.name, f.affine, f.reluAfter, bnAfterConv, reluAfterBN)
		}
		fused += f.affine
		fusedReLU += f.reluAfter
	}
	if fused == 0 || fusedReLU == 0 {
		t.Errorf("the cases have %d batchnorms after a convolution, %d of them followed by a relu; want some of each", fused, fusedReLU)
	}
}

// TestForwarderSeam runs every layer case with the references behind the seam: the
// outputs agree with the CPU path to float32 rounding, and every linear and
// convolution layer went through the seam (one call per layer for the whole batch).
func TestForwarderSeam(t *testing.T) {
	for _, c := range opCases {
		f := &refForwarder{}
		m := throughSeam(t, c, f, 11, 23)
		layers := m.Arch().Layers
		nl, nc := 0, 0
		for _, l := range layers {
			switch l.Op {
			case OpLinear:
				nl++
			case OpConv2d:
				nc++
			}
		}
		if f.linear != nl || f.conv != nc {
			t.Errorf("%s: seam called for %d linear, %d conv layers; the arch has %d, %d", c.name, f.linear, f.conv, nl, nc)
		}
	}
}
