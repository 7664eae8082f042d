package nn

import (
	"fmt"
	"runtime"
	"sync"

	"ladle/core/compute"
)

// Tensor is an in-memory float32 tensor in PyTorch's (row-major) layout.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Param is one tensor a Model reads: a weight, a bias or a batchnorm running
// statistic. Data is the model's own storage: a trainer updates it in place, and the
// next Forward sees the change.
type Param struct {
	Name  string // the checkpoint name, e.g. "conv1.weight"
	Shape []int
	Data  []float32
	// Trainable is false for batchnorm's running_mean and running_var, which are
	// buffers updated by training-mode passes, not by gradients.
	Trainable bool
}

// Model is an Arch bound to weights, ready to run. Forward may be called from several
// goroutines at once; changing Params meanwhile is the caller's race.
type Model struct {
	arch     *Arch
	params   []*Param
	byName   map[string]int
	layers   []layer
	steps    []step // the layers as Forward runs them
	inShape  []int
	outShape []int
	inSize   int
	outSize  int
	maxAct   int       // the largest activation of one sample, input included
	scale    []float32 // input preprocessing, per channel: x*scale + shift
	shift    []float32
	chInner  int // input elements per channel
	threads  int
	fwd      compute.Forwarder // nil: the CPU
	exact    bool              // exact mode (exact.go)

	mu       sync.Mutex
	free     []*workspace // reusable per-goroutine buffers of Forward
	freePrep []*prepared  // reusable per-pass prepared weights
}

// NewModel binds arch to in-memory tensors, keyed by checkpoint name. Every tensor
// the arch needs must be present with the right shape (the error names the layer,
// the tensor and the shape wanted); other entries are ignored. The model keeps the
// given Data slices as its parameters rather than copying them.
func NewModel(arch *Arch, tensors map[string]Tensor) (*Model, error) {
	if err := arch.Validate(); err != nil {
		return nil, err
	}
	m, err := build(arch, func(name string) ([]int, bool) {
		t, ok := tensors[name]
		return t.Shape, ok
	})
	if err != nil {
		return nil, err
	}
	for _, p := range m.params {
		t := tensors[p.Name]
		if len(t.Data) != numel(p.Shape) {
			return nil, fmt.Errorf("nn: tensor %q: shape %v has %d elements but its data holds %d", p.Name, p.Shape, numel(p.Shape), len(t.Data))
		}
		p.Data = t.Data
	}
	return m, nil
}

// build walks the arch from its input shape, creating each layer and checking each
// tensor it needs through shapeOf. The returned model has no parameter data yet.
func build(arch *Arch, shapeOf func(string) ([]int, bool)) (*Model, error) {
	m := &Model{arch: arch, byName: map[string]int{}, inShape: append([]int(nil), arch.InputShape...)}
	m.inSize = numel(m.inShape)
	m.maxAct = m.inSize
	shape := m.inShape
	for i := range arch.Layers {
		l := &arch.Layers[i]
		b := &builder{m: m, layer: l, desc: l.describe(i), shapeOf: shapeOf}
		ly, err := b.make(shape)
		if err != nil {
			return nil, fmt.Errorf("nn: %s: %w", b.desc, err)
		}
		base := ly.base()
		base.index, base.desc, base.in, base.inN, base.outN = i, b.desc, shape, numel(shape), numel(base.out)
		if base.outN > maxInputElems {
			return nil, fmt.Errorf("nn: %s: its output %v has more than %d elements per sample", b.desc, base.out, maxInputElems)
		}
		m.maxAct = max(m.maxAct, base.outN)
		m.layers = append(m.layers, ly)
		shape = base.out
	}
	m.outShape, m.outSize = shape, numel(shape)
	m.steps = inferenceSteps(m.layers)
	m.setInputTransform()
	return m, nil
}

// setInputTransform folds input_scale and normalize into one multiply-add per
// channel: (x·scale − mean)/std = x·(scale/std) + (−mean/std).
func (m *Model) setInputTransform() {
	a := m.arch
	ch := a.channels()
	m.chInner = m.inSize / ch
	m.scale, m.shift = make([]float32, ch), make([]float32, ch)
	s := or(a.InputScale, 1)
	for c := range ch {
		mean, std := 0.0, 1.0
		if nz := a.Normalize; nz != nil {
			mean, std = pick(nz.Mean, c), pick(nz.Std, c)
		}
		m.scale[c] = float32(s / std)
		m.shift[c] = float32(-mean / std)
	}
}

func pick(v []float64, i int) float64 {
	if len(v) == 1 {
		return v[0]
	}
	return v[i]
}

// Arch is the spec the model was built from.
func (m *Model) Arch() *Arch { return m.arch }

// Params lists the tensors the model reads, in the order its layers use them.
func (m *Model) Params() []*Param { return m.params }

// Param returns the named parameter, or nil.
func (m *Model) Param(name string) *Param {
	if i, ok := m.byName[name]; ok {
		return m.params[i]
	}
	return nil
}

// Tensors returns the model's parameters keyed by name, sharing their storage.
func (m *Model) Tensors() map[string]Tensor {
	out := make(map[string]Tensor, len(m.params))
	for _, p := range m.params {
		out[p.Name] = Tensor{Shape: p.Shape, Data: p.Data}
	}
	return out
}

// InputShape is one sample's input shape; InputSize its number of elements.
func (m *Model) InputShape() []int { return m.inShape }

// InputSize is the number of raw input values of one sample.
func (m *Model) InputSize() int { return m.inSize }

// OutputShape is one sample's output shape (e.g. [10] for ten classes).
func (m *Model) OutputShape() []int { return m.outShape }

// OutputSize is the number of output values of one sample.
func (m *Model) OutputSize() int { return m.outSize }

// SetThreads bounds the goroutines a pass uses; n ≤ 0 means GOMAXPROCS (the default).
// Results do not depend on it.
func (m *Model) SetThreads(n int) { m.threads = n }

func (m *Model) workers() int {
	if m.threads > 0 {
		return m.threads
	}
	return runtime.GOMAXPROCS(0)
}

// addParam registers a parameter read by a layer and returns it.
func (m *Model) addParam(name string, shape []int, trainable bool) *Param {
	p := &Param{Name: name, Shape: shape, Trainable: trainable}
	m.byName[name] = len(m.params)
	m.params = append(m.params, p)
	return p
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// SetForwarder makes Forward run its linear and convolution layers on f (another
// device; nil: the CPU). f may sum in another order than the CPU: outputs then differ
// in rounding, and a layer f declines runs on the CPU.
func (m *Model) SetForwarder(f compute.Forwarder) { m.fwd = f }
