package compute

import (
	"context"

	"ladle/core/tensor"
)

// Hist16 is a histogram of 16 bits of float32 keys (see KeyHistogram).
type Hist16 = [1 << 16]uint64

// Merger computes merge kernels. Every method returns false when it did not run
// (unsupported input, lost device): the caller then runs CPU code, which gives the
// same bits. A true return promises the CPU reference's exact output.
type Merger interface {
	// UnitSum writes out[c] = float32(s·mul) when div == 0, else float32(s/div), where
	// s = Σᵢ xs[i][c] accumulated in float64 in order and div is a whole number
	// (the linear merge of models weighted 1: UnitSumRef).
	UnitSum(out []float32, xs [][]float32, div, mul float64) bool
	// KeyHistogram adds to h the top 16 bits of every key AbsKey(x[i] − base[i])
	// (AbsKey(x[i]) when base is nil) when high, else the low 16 bits of the keys
	// whose top 16 bits equal match (KeyHistogramRef).
	KeyHistogram(h *Hist16, x, base []float32, high bool, match uint32) bool
	// TiesSums computes TIES' sign election and disjoint sums of models weighted 1
	// (TiesSumsRef): mixed[c] and count[c] for each element, or count[c] = TiesFlag
	// where the backend could not prove its result exact (the caller computes those
	// elements). keep[i] selects model i's trimmed entries; lo is the tensor index of
	// element 0 (the bounds' indices are the tensor's).
	TiesSums(mixed []float64, count []uint32, xs [][]float32, base []float32, keep []tensor.Bound, lo int) bool
	// TaskSums computes the task-vector sum of models weighted 1 (TaskSumsRef):
	// sum[c] = Σ of the kept δᵢ and count[c] how many are nonzero, or count[c] =
	// TiesFlag where the backend could not prove its result exact. A sum of 0 may
	// come back as +0 where the CPU has −0.
	TaskSums(sum []float64, count []uint32, xs [][]float32, base []float32, keep []tensor.Bound, lo int) bool
}

// Forwarder computes the heavy layers of an inference pass. Results may differ
// from the CPU in rounding (the order of a sum), never in meaning.
type Forwarder interface {
	// Linear sets y[s·out+o] = act(Σ_k x[s·in+k]·w[o·in+k] + bias[o]) for n samples
	// (PyTorch's nn.Linear; bias may be nil; act is relu when relu, else identity).
	Linear(y, x, w, bias []float32, n, in, out int, relu bool) bool
	// Conv2D computes n samples of a 2-D convolution (PyTorch's layout: x [n, C, H,
	// W], w [OC, C, KH, KW], y [n, OC, OH, OW]) with stride and zero padding, bias
	// (may be nil) and an optional fused relu.
	Conv2D(y, x, w, bias []float32, n int, g ConvGeom, relu bool) bool
}

// ConvAffiner is a Forwarder that also applies, after a convolution's bias and relu,
// a per-output-channel affine map y·scale[o] + shift[o]: the eval-mode batchnorm that
// follows the convolution, computed in the same pass, then a relu when reluAfter (the
// conv → batchnorm → relu of most convolutional networks) (Conv2DAffineRef).
type ConvAffiner interface {
	Conv2DAffine(y, x, w, bias []float32, n int, g ConvGeom, relu bool, scale, shift []float32, reluAfter bool) bool
}

// LinearHeader is a Forwarder that also computes, in the pass of a linear layer (its
// bias and optional relu), what follows it (Head): the eval-mode batchnorm after it
// with the relu after that, and then log_softmax over each sample's outputs, a
// classifier's head (LinearHeadRef). The log_softmax may round otherwise than the
// CPU's float64 one (LogSoftmaxF32 is the algorithm a backend runs, and its tests
// bound the error): evaluation holds it to Agree's rule, as it holds the sums.
type LinearHeader interface {
	LinearHead(y, x, w, bias []float32, n, in, out int, relu bool, h Head) bool
}

// Head is what a LinearHeader applies after a linear layer's bias and relu, in order.
// softmax (probabilities) is not among them: a probability near 1 holds the sample's
// whole loss in its last bits (−log(1 − 2⁻²⁴) is 6e-8), so a few float32 ulps of it
// would move the mean loss of an accurate model past Agree's 1e-5.
type Head struct {
	Scale, Shift []float32 // the batchnorm's per-output v·Scale[o] + Shift[o]; nil: none
	ReLU         bool      // a relu after that batchnorm (none without one)
	LogSoftmax   bool      // then log_softmax over each sample's outputs
}

// ConvGeom is the shape of a convolution.
type ConvGeom struct {
	C, H, W    int // input channels and size
	OC, KH, KW int // output channels and kernel size
	SH, SW     int // stride
	PH, PW     int // zero padding
	OH, OW     int // output size
}

// Out returns the output size (H + 2·PH − KH)/SH + 1 by (W + 2·PW − KW)/SW + 1.
func (g ConvGeom) Out() (int, int) {
	return (g.H+2*g.PH-g.KH)/g.SH + 1, (g.W+2*g.PW-g.KW)/g.SW + 1
}

// Backend is what a request computes with; a nil member means the CPU.
type Backend struct {
	Merge   Merger
	Forward Forwarder
}

type ctxKey struct{}

// NewContext returns ctx carrying b, for the code that runs a request.
func NewContext(ctx context.Context, b Backend) context.Context {
	return context.WithValue(ctx, ctxKey{}, b)
}

// FromContext returns the Backend ctx carries (the zero Backend, the CPU, if none).
func FromContext(ctx context.Context) Backend {
	b, _ := ctx.Value(ctxKey{}).(Backend)
	return b
}
