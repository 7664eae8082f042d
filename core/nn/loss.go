package nn

import (
	"fmt"
	"math"
)

// OutputKind says what a model's output values mean, which decides how the negative
// log-likelihood of a label is computed from them.
type OutputKind int

const (
	// Logits: unnormalised scores; the NLL applies log_softmax first (cross-entropy).
	Logits OutputKind = iota
	// Probs: the model ends in softmax; the NLL takes the log.
	Probs
	// LogProbs: the model ends in log_softmax; the NLL uses the output directly.
	LogProbs
)

func (k OutputKind) String() string {
	switch k {
	case Probs:
		return "probabilities"
	case LogProbs:
		return "log-probabilities"
	}
	return "logits"
}

// OutputKind is decided by the last layer that changes values (flatten and dropout
// do not): log_softmax gives LogProbs, softmax Probs, anything else Logits.
func (m *Model) OutputKind() OutputKind {
	for i := len(m.layers) - 1; i >= 0; i-- {
		switch l := m.layers[i].(type) {
		case *identity:
			continue
		case *softmax:
			if l.log {
				return LogProbs
			}
			return Probs
		default:
			return Logits
		}
	}
	return Logits
}

// minProb floors probabilities before their log, so that a softmax output that
// underflowed to 0 costs −log(2⁻¹⁴⁹) ≈ 103.3 rather than +Inf.
const minProb = math.SmallestNonzeroFloat32

// NLL is −log p(label) for one output row of the given kind.
func NLL(row []float32, label int, kind OutputKind) float64 {
	switch kind {
	case LogProbs:
		return -float64(row[label])
	case Probs:
		return -math.Log(math.Max(float64(row[label]), minProb))
	}
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(s) - float64(row[label])
}

// CrossEntropy is the mean NLL of labels over a batch of output rows (len(out) =
// len(labels) × classes). When grad is not nil it receives the gradient of that mean
// with respect to out, ready for Pass.Backward.
func CrossEntropy(out []float32, labels []int, kind OutputKind, grad []float32) (float64, error) {
	n := len(labels)
	if n == 0 || len(out)%n != 0 {
		return 0, fmt.Errorf("nn: %d outputs do not split into %d rows", len(out), n)
	}
	k := len(out) / n
	if grad != nil && len(grad) != len(out) {
		return 0, fmt.Errorf("nn: gradient buffer holds %d values, want %d", len(grad), len(out))
	}
	var sum float64
	for i, y := range labels {
		if y < 0 || y >= k {
			return 0, fmt.Errorf("nn: label %d of sample %d is outside the %d classes", y, i, k)
		}
		row := out[i*k : (i+1)*k]
		sum += NLL(row, y, kind)
		if grad == nil {
			continue
		}
		g := grad[i*k : (i+1)*k]
		clear(g)
		switch kind {
		case LogProbs:
			g[y] = float32(-1 / float64(n))
		case Probs:
			g[y] = float32(-1 / (float64(n) * math.Max(float64(row[y]), minProb)))
		default: // (softmax − one-hot)/n
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, float64(v))
			}
			var s float64
			for _, v := range row {
				s += math.Exp(float64(v) - mx)
			}
			for j, v := range row {
				p := math.Exp(float64(v)-mx) / s
				if j == y {
					p--
				}
				g[j] = float32(p / float64(n))
			}
		}
	}
	return sum / float64(n), nil
}
