package compute

import "math"

// Agreement compares an evaluation's outputs on another backend with the CPU's, under
// the rule evaluation on a GPU must meet: wherever the CPU's top-two margin exceeds
// Margin, the predicted class is the CPU's; elsewhere (near-ties, where summation order
// may decide) the samples are only counted; and the mean loss agrees to LossRel
// relative.
type Agreement struct {
	Samples   int
	NearTies  int     // CPU margins ≤ Margin: either class is right
	Disagree  int     // predictions that differ although the margin exceeds Margin
	LossRel   float64 // |loss − CPU loss| / |CPU loss|
	LossCPU   float64
	LossOther float64
}

const (
	Margin  = 1e-4
	LossRel = 1e-5
)

// OK reports whether the rule holds.
func (a Agreement) OK() bool { return a.Disagree == 0 && a.LossRel <= LossRel }

// Agree compares log-probabilities (or logits, for the margins: loss then uses a
// log-softmax of them) of n samples × classes from the CPU and another backend, with
// the samples' labels.
func Agree(cpu, other []float32, classes int, labels []int) Agreement {
	a := Agreement{Samples: len(labels)}
	for s, y := range labels {
		c, o := cpu[s*classes:(s+1)*classes], other[s*classes:(s+1)*classes]
		best, second := top2(c)
		if float64(c[best])-float64(c[second]) <= Margin {
			a.NearTies++
		} else if ob, _ := top2(o); ob != best {
			a.Disagree++
		}
		a.LossCPU += nll(c, y)
		a.LossOther += nll(o, y)
	}
	if n := float64(len(labels)); n > 0 {
		a.LossCPU /= n
		a.LossOther /= n
	}
	a.LossRel = math.Abs(a.LossOther-a.LossCPU) / math.Max(math.Abs(a.LossCPU), 1e-30)
	return a
}

func top2(v []float32) (best, second int) {
	best, second = 0, -1
	for i := 1; i < len(v); i++ {
		switch {
		case v[i] > v[best]:
			best, second = i, best
		case second < 0 || v[i] > v[second]:
			second = i
		}
	}
	if second < 0 {
		second = best
	}
	return best, second
}

// nll is −log softmax(v)[y] in float64.
func nll(v []float32, y int) float64 { return logSumExp(v) - float64(v[y]) }
