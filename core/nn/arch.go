package nn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"ladle/core/ckpt"
)

// MetadataKey is the safetensors metadata key under which a checkpoint may carry its
// own arch spec (the JSON of an Arch), so that no separate ARCH.json is needed.
const MetadataKey = "ladle.arch"

// Arch is an architecture spec (ARCH.json): the input the model takes and its layers
// in order. Weights are not part of it: each layer with parameters names the tensor
// prefix it reads them from (conv1 → conv1.weight, conv1.bias).
type Arch struct {
	// InputShape is one sample's shape without the batch: [C, H, W] for images,
	// [F] for feature vectors. A dataset sample fits when it has as many elements.
	InputShape []int `json:"input_shape"`
	// InputScale multiplies every raw input value first (1/255 turns bytes into [0, 1]).
	// 0 (or absent) means 1.
	InputScale float64 `json:"input_scale,omitempty"`
	// Normalize then maps x to (x − mean[c]) / std[c] per channel c.
	Normalize *Normalize `json:"normalize,omitempty"`
	Layers    []Layer    `json:"layers"`
}

// Normalize holds per-channel statistics: one value for every channel, or a single
// value for all. The channel is input_shape[0] for inputs of rank 2 or more, and each
// feature for a flat [F] input.
type Normalize struct {
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
}

// Layer is one step of an Arch. Which fields apply depends on Op; zero values mean
// PyTorch's defaults.
type Layer struct {
	Op string `json:"op"`
	// Name is the tensor prefix of linear, conv2d and batchnorm layers.
	Name string `json:"name,omitempty"`
	// Kernel of the pools (required); for conv2d it is optional and, when given,
	// checked against the weight's shape.
	Kernel Pair `json:"kernel,omitempty"`
	// Stride of conv2d (default 1) and the pools (default: the kernel, as PyTorch).
	Stride Pair `json:"stride,omitempty"`
	// Padding (zeros for conv2d and avgpool2d, −Inf for maxpool2d); default 0.
	Padding Pair `json:"padding,omitempty"`
	// Eps of batchnorm; 0 means 1e-5.
	Eps float64 `json:"eps,omitempty"`
	// Momentum of batchnorm's running statistics in training mode; 0 means 0.1.
	Momentum float64 `json:"momentum,omitempty"`
	// Bias of linear and conv2d: nil or true reads NAME.bias, false means none.
	Bias *bool `json:"bias,omitempty"`
	// Affine of batchnorm: nil or true reads NAME.weight and NAME.bias, false means
	// γ = 1 and β = 0 (the running statistics are always read).
	Affine *bool `json:"affine,omitempty"`
	// P is dropout's probability. It is only recorded: dropout is the identity in
	// every mode (Ladle's trainers are deterministic and do not use it).
	P float64 `json:"p,omitempty"`
}

// Ops are the layer kinds, as they are spelled in ARCH.json.
const (
	OpLinear     = "linear"
	OpConv2d     = "conv2d"
	OpBatchnorm  = "batchnorm"
	OpReLU       = "relu"
	OpGELU       = "gelu"
	OpTanh       = "tanh"
	OpSigmoid    = "sigmoid"
	OpMaxPool2d  = "maxpool2d"
	OpAvgPool2d  = "avgpool2d"
	OpFlatten    = "flatten"
	OpDropout    = "dropout"
	OpSoftmax    = "softmax"
	OpLogSoftmax = "log_softmax"
)

// Ops lists every op an Arch may use.
var Ops = []string{OpLinear, OpConv2d, OpBatchnorm, OpReLU, OpGELU, OpTanh, OpSigmoid,
	OpMaxPool2d, OpAvgPool2d, OpFlatten, OpDropout, OpSoftmax, OpLogSoftmax}

// Pair is a (height, width) pair such as a kernel size. In JSON it is a number (both
// the same) or a list [h, w], as PyTorch accepts either.
type Pair [2]int

// P2 is the Pair (n, n).
func P2(n int) Pair { return Pair{n, n} }

func (p Pair) isZero() bool { return p == Pair{} }

// UnmarshalJSON accepts n or [h, w].
func (p *Pair) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*p = Pair{n, n}
		return nil
	}
	var hw []int
	if err := json.Unmarshal(b, &hw); err != nil || len(hw) != 2 {
		return fmt.Errorf("want an integer or a list of two integers, got %s", b)
	}
	*p = Pair{hw[0], hw[1]}
	return nil
}

// MarshalJSON writes n when both halves are equal, [h, w] otherwise.
func (p Pair) MarshalJSON() ([]byte, error) {
	if p[0] == p[1] {
		return json.Marshal(p[0])
	}
	return json.Marshal([]int{p[0], p[1]})
}

// maxInputElems bounds one sample's size: a spec asking for more is a mistake (or
// hostile), not a model this engine should try to allocate buffers for.
const maxInputElems = 1 << 26

// ParseArch reads an ARCH.json document. Unknown fields are errors (a misspelt
// "stide" must not silently mean stride 1). The spec is validated on its own here;
// whether the weights fit it is checked by NewModel and Load.
func ParseArch(b []byte) (*Arch, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var a Arch
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("arch: %v", err)
	}
	if dec.More() {
		return nil, errors.New("arch: trailing data after the JSON object")
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &a, nil
}

// JSON encodes the spec, e.g. for the MetadataKey of a checkpoint.
func (a *Arch) JSON() []byte {
	b, err := json.Marshal(a)
	if err != nil { // only plain fields: cannot fail
		panic(err)
	}
	return b
}

// ArchOf returns the spec that src carries under MetadataKey.
func ArchOf(src ckpt.Source) (*Arch, error) {
	s, ok := src.Metadata()[MetadataKey]
	if !ok {
		return nil, fmt.Errorf("%s: the checkpoint carries no architecture (no %q metadata); give one with --arch ARCH.json", src.Path(), MetadataKey)
	}
	a, err := ParseArch([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("%s: metadata %q: %w", src.Path(), MetadataKey, err)
	}
	return a, nil
}

// Validate checks the spec for mistakes that need no weights to find.
func (a *Arch) Validate() error {
	if len(a.InputShape) == 0 {
		return errors.New("arch: input_shape is missing (e.g. [1, 28, 28] or [4])")
	}
	n := 1
	for _, d := range a.InputShape {
		if d <= 0 {
			return fmt.Errorf("arch: input_shape %v: every dimension must be positive", a.InputShape)
		}
		if n > maxInputElems/d {
			return fmt.Errorf("arch: input_shape %v has more than %d elements", a.InputShape, maxInputElems)
		}
		n *= d
	}
	if s := a.InputScale; math.IsNaN(s) || math.IsInf(s, 0) {
		return fmt.Errorf("arch: input_scale %v is not a finite number", s)
	}
	if nz := a.Normalize; nz != nil {
		ch := a.channels()
		if len(nz.Mean) != 1 && len(nz.Mean) != ch || len(nz.Std) != 1 && len(nz.Std) != ch {
			return fmt.Errorf("arch: normalize needs 1 or %d values in mean and std, got %d and %d", ch, len(nz.Mean), len(nz.Std))
		}
		for _, m := range nz.Mean {
			if math.IsNaN(m) || math.IsInf(m, 0) {
				return fmt.Errorf("arch: normalize mean %v is not finite", m)
			}
		}
		for _, s := range nz.Std {
			if s == 0 || math.IsNaN(s) || math.IsInf(s, 0) {
				return fmt.Errorf("arch: normalize std %v must be finite and nonzero", s)
			}
		}
	}
	if len(a.Layers) == 0 {
		return errors.New("arch: no layers")
	}
	for i := range a.Layers {
		if err := a.Layers[i].validate(); err != nil {
			return fmt.Errorf("arch: %s: %w", a.Layers[i].describe(i), err)
		}
	}
	return nil
}

// channels is the number of normalisation channels of the input: its first
// dimension (for a flat [F] input, every feature is a channel).
func (a *Arch) channels() int { return a.InputShape[0] }

func (l *Layer) describe(i int) string {
	if l.Name != "" {
		return fmt.Sprintf("layer %d (%s %q)", i, l.Op, l.Name)
	}
	return fmt.Sprintf("layer %d (%s)", i, l.Op)
}

func (l *Layer) validate() error {
	named := false
	switch l.Op {
	case OpLinear, OpConv2d, OpBatchnorm:
		named = true
	case OpReLU, OpGELU, OpTanh, OpSigmoid, OpFlatten, OpDropout, OpSoftmax, OpLogSoftmax:
	case OpMaxPool2d, OpAvgPool2d:
		if l.Kernel[0] <= 0 || l.Kernel[1] <= 0 {
			return fmt.Errorf("needs a positive kernel, e.g. \"kernel\": 2")
		}
		if p := l.Padding; p[0]*2 > l.Kernel[0] || p[1]*2 > l.Kernel[1] {
			return fmt.Errorf("padding %v must be at most half the kernel %v (as PyTorch requires)", p, l.Kernel)
		}
	case "":
		return errors.New(`no "op"`)
	default:
		return fmt.Errorf("unknown op %q (known: %s)", l.Op, strings.Join(Ops, ", "))
	}
	if named && l.Name == "" {
		return fmt.Errorf(`%s needs a "name": the prefix of its tensors (e.g. "fc1" for fc1.weight)`, l.Op)
	}
	if l.Stride[0] < 0 || l.Stride[1] < 0 || l.Padding[0] < 0 || l.Padding[1] < 0 || l.Kernel[0] < 0 || l.Kernel[1] < 0 {
		return errors.New("kernel, stride and padding must not be negative")
	}
	if (l.Stride[0] == 0) != (l.Stride[1] == 0) {
		return fmt.Errorf("stride %v: both halves must be positive", l.Stride)
	}
	if (l.Kernel[0] == 0) != (l.Kernel[1] == 0) {
		return fmt.Errorf("kernel %v: both halves must be positive", l.Kernel)
	}
	if l.Eps < 0 || math.IsNaN(l.Eps) || math.IsInf(l.Eps, 0) {
		return fmt.Errorf("eps %v must be a non-negative finite number", l.Eps)
	}
	if l.Momentum < 0 || l.Momentum > 1 || math.IsNaN(l.Momentum) {
		return fmt.Errorf("momentum %v must lie in [0, 1]", l.Momentum)
	}
	if l.Bias != nil && l.Op != OpLinear && l.Op != OpConv2d {
		return errors.New(`"bias" applies only to linear and conv2d`)
	}
	if l.Affine != nil && l.Op != OpBatchnorm {
		return errors.New(`"affine" applies only to batchnorm`)
	}
	return nil
}

func (l *Layer) hasBias() bool     { return l.Bias == nil || *l.Bias }
func (l *Layer) isAffine() bool    { return l.Affine == nil || *l.Affine }
func (l *Layer) eps() float64      { return or(l.Eps, 1e-5) }
func (l *Layer) momentum() float64 { return or(l.Momentum, 0.1) }

// stride2 is the effective stride: conv2d defaults to 1, the pools to their kernel.
func (l *Layer) stride2() Pair {
	if !l.Stride.isZero() {
		return l.Stride
	}
	if l.Op == OpMaxPool2d || l.Op == OpAvgPool2d {
		return l.Kernel
	}
	return P2(1)
}

func or(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}
