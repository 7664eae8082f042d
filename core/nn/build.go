package nn

import (
	"fmt"
	"strconv"
	"strings"
)

// builder creates one layer from its spec and the shape of its input, checking the
// tensors it needs.
type builder struct {
	m       *Model
	layer   *Layer
	desc    string
	shapeOf func(string) ([]int, bool)
}

func (b *builder) make(in []int) (layer, error) {
	l := b.layer
	switch l.Op {
	case OpLinear:
		return newLinear(b, in)
	case OpConv2d:
		return newConv(b, in)
	case OpBatchnorm:
		return newBatchnorm(b, in)
	case OpMaxPool2d, OpAvgPool2d:
		return newPool(b, in)
	case OpReLU, OpGELU, OpTanh, OpSigmoid:
		return newActivation(l.Op, in), nil
	case OpSoftmax, OpLogSoftmax:
		return newSoftmax(l.Op == OpLogSoftmax, in), nil
	case OpFlatten:
		return &identity{layerBase{out: []int{numel(in)}}}, nil
	case OpDropout:
		return &identity{layerBase{out: in}}, nil
	}
	return nil, fmt.Errorf("unknown op %q", l.Op) // Validate has caught this already
}

// param looks up the tensor NAME.suffix, checks its shape against want (−1 matches any
// size) and registers it with the model.
func (b *builder) param(suffix string, want []int, trainable bool) (*Param, error) {
	name := b.layer.Name + "." + suffix
	got, ok := b.shapeOf(name)
	if !ok {
		return nil, fmt.Errorf("no tensor %q (want shape %s)", name, shapeString(want))
	}
	if !shapeMatches(got, want) {
		return nil, fmt.Errorf("tensor %q has shape %s, want %s", name, shapeString(got), shapeString(want))
	}
	for _, d := range got {
		if d <= 0 {
			return nil, fmt.Errorf("tensor %q has shape %s: every dimension must be positive", name, shapeString(got))
		}
	}
	if i, ok := b.m.byName[name]; ok { // a tensor shared by two layers (weight tying)
		return b.m.params[i], nil
	}
	return b.m.addParam(name, append([]int(nil), got...), trainable), nil
}

func shapeMatches(got, want []int) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if want[i] >= 0 && got[i] != want[i] {
			return false
		}
	}
	return true
}

// shapeString prints a shape as [32, 11616], with ? for a size that may be anything.
func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d < 0 {
			parts[i] = "?"
		} else {
			parts[i] = strconv.Itoa(d)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// poolOut is the output size of a convolution or pool along one axis, floor mode as
// PyTorch; it is ≤ 0 when the window does not fit.
func poolOut(in, k, stride, pad int) int {
	if in+2*pad < k {
		return 0
	}
	return (in+2*pad-k)/stride + 1
}

// layerBase holds what every layer knows about its place in the model.
type layerBase struct {
	index int    // position in the model's layers
	desc  string // "layer 3 (conv2d "conv2")", for errors
	in    []int  // one sample's input shape
	out   []int  // one sample's output shape
	inN   int
	outN  int
}

func (l *layerBase) base() *layerBase { return l }

// identity is flatten and dropout: the data does not change, only (for flatten) its
// shape, so passes skip it and let its output alias its input.
type identity struct{ layerBase }

func (*identity) forward(dst, src []float32, n int, s *scratch) { copy(dst, src) }
func (*identity) backward(c *backCtx)                           { copy(c.dsrc, c.ddst) }
