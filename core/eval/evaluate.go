package eval

import (
	"context"
	"fmt"
	"math"

	"ladle/core/eval/part"
	"ladle/core/nn"
)

// DefaultBatch is the batch size Evaluate uses when given 0.
const DefaultBatch = 1024

// Result is a model's score on a dataset.
type Result struct {
	// Accuracy is the fraction of samples whose largest output is at the label
	// (ties go to the lower class index).
	Accuracy float64 `json:"accuracy"`
	// Loss is the mean negative log-likelihood of the labels; see Evaluate.
	Loss float64 `json:"loss"`
	// N is the number of samples.
	N int `json:"n"`
	// Correct is the number of samples classified right.
	Correct int `json:"-"`
}

// Evaluate runs the model over the dataset, batch samples at a time (0 means
// DefaultBatch), and returns its accuracy and mean loss.
//
// The loss is the negative log-likelihood of the label, read according to what the
// model's last layer makes of its output (nn.Model.OutputKind): after log_softmax the
// output is used directly (PyTorch's nll_loss); after softmax its log is taken (a
// probability that underflowed to 0 counts as 2⁻¹⁴⁹); anything else is logits, and
// log_softmax is applied first (PyTorch's cross_entropy). It is summed in float64 in
// sample order, so the result does not depend on the batch size or the threads.
//
// Errors: a sample that does not have the model's input size, a label outside the
// model's outputs, and an output that is not finite (NaN or ±Inf) for some sample.
func Evaluate(m *nn.Model, d *Dataset, batch int) (Result, error) {
	return EvaluateContext(context.Background(), m, d, batch, nil)
}

// EvaluateContext is Evaluate that stops with ctx's error between batches and, when
// progress is not nil, calls it after each batch with the samples done so far and
// the total. The result is the same as Evaluate's, bit for bit.
func EvaluateContext(ctx context.Context, m *nn.Model, d *Dataset, batch int, progress func(done, total int)) (Result, error) {
	p, err := EvaluatePart(ctx, m, d, 0, d.Len(), batch, progress)
	if err != nil {
		return Result{}, err
	}
	return Combine([]Part{p})
}

// Part is the score of a contiguous range of a dataset's samples, Lo to Lo+len(Losses):
// the samples classified right and each sample's loss. Parts of one dataset combine
// (Combine) into exactly the Result that Evaluate gives for the whole of it.
type Part = part.Part

// SplitSamples divides n samples into count contiguous ranges of sizes that differ
// by one at most: range i is b[i] to b[i+1] of the returned bounds b (len count+1); a
// range is empty when count > n. The cuts need not fall between batches: a sample's
// output does not depend on the others of its batch.
func SplitSamples(n, count int) []int {
	count = max(count, 1)
	b := make([]int, count+1)
	for i := range b {
		b[i] = n * i / count
	}
	return b
}

// EvaluatePart is EvaluateContext for the samples lo to hi (0 <= lo <= hi <= d.Len()):
// it returns their per-sample losses instead of their mean, so that parts of one
// dataset evaluated apart (in several workers) combine into the whole evaluation's
// result, bit for bit. Progress counts the part's samples.
func EvaluatePart(ctx context.Context, m *nn.Model, d *Dataset, lo, hi, batch int, progress func(done, total int)) (Part, error) {
	if err := Compatible(m, d); err != nil {
		return Part{}, err
	}
	if lo < 0 || hi < lo || hi > d.Len() {
		return Part{}, fmt.Errorf("%s: samples %d to %d: out of range (the dataset has %d)", d.name(), lo, hi, d.Len())
	}
	classes := m.OutputSize()
	for i, y := range d.Labels {
		if y >= classes {
			return Part{}, fmt.Errorf("%s: label y[%d] = %d, but the model has only %d outputs (classes 0 to %d)", d.name(), i, y, classes, classes-1)
		}
	}
	if batch <= 0 {
		batch = DefaultBatch
	}
	p := Part{Lo: lo, Losses: make([]float64, 0, hi-lo)}
	var xb, out []float32
	for b := lo; b < hi; b += batch {
		if err := ctx.Err(); err != nil {
			return Part{}, err
		}
		e := min(b+batch, hi)
		xb = d.Batch(xb, b, e)
		if cap(out) < (e-b)*classes {
			out = make([]float32, (e-b)*classes)
		}
		out = out[:(e-b)*classes]
		if err := m.ForwardInto(out, xb, e-b); err != nil {
			return Part{}, err
		}
		for i := range e - b {
			row := out[i*classes : (i+1)*classes]
			y := d.Labels[b+i]
			if argmax(row) == y {
				p.Correct++
			}
			l := m.NLL(row, y)
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return Part{}, fmt.Errorf("%s: sample %d: the model's output is not finite (%v); its weights or inputs hold NaN or Inf, or overflow", d.name(), b+i, row)
			}
			p.Losses = append(p.Losses, l)
		}
		if progress != nil {
			progress(e-lo, hi-lo)
		}
	}
	return p, nil
}

// Combine joins the parts of one evaluation, which must cover the samples from 0 on
// without gap or overlap (in any order), into its Result: the loss is summed in
// float64 in sample order, as one whole evaluation sums it, so the result does not
// depend on how the samples were split.
func Combine(parts []Part) (Result, error) {
	correct, n, loss, err := part.Join(parts)
	if err != nil {
		return Result{}, err
	}
	return Result{Accuracy: float64(correct) / float64(n), Loss: loss, N: n, Correct: correct}, nil
}

// Compatible checks that the model can be evaluated on the dataset: one output per
// class, and samples with as many values as the model's input (the shapes may
// differ, as a [28, 28] image fits a [1, 28, 28] input).
func Compatible(m *nn.Model, d *Dataset) error {
	if d.Len() == 0 {
		return fmt.Errorf("%s: no samples", d.name())
	}
	if len(m.OutputShape()) != 1 {
		return fmt.Errorf("the model's output has shape %v per sample; evaluation needs one score per class (end with a linear layer, or flatten)", m.OutputShape())
	}
	if d.Features() != m.InputSize() {
		return fmt.Errorf("%s: samples have shape %v (%d values), but the model's input_shape %v takes %d", d.name(), d.Shape, d.Features(), m.InputShape(), m.InputSize())
	}
	return nil
}

// argmax is the index of the largest value, the first one on ties; NaN never wins.
func argmax(row []float32) int {
	best := 0
	for j, v := range row {
		if v > row[best] || row[best] != row[best] {
			best = j
		}
	}
	return best
}
