// Package part joins the parts of one evaluation whose samples were split over
// several workers. It links nothing of the evaluator, so that the playground's page
// program, which must not link core/eval and its network code, joins the engine
// workers' answers with the same code that package eval uses.
//
// Invariant: Join sums the losses in float64 in sample order, as one whole
// evaluation sums them, so the figures do not depend on how the samples were split.
package part

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Part is the score of a contiguous range of a dataset's samples, Lo to
// Lo+len(Losses): the samples classified right and each sample's loss.
type Part struct {
	Lo      int       `json:"lo"`
	Correct int       `json:"correct"`
	Losses  []float64 `json:"losses"`
}

// Join joins parts that cover the samples from 0 on without gap or overlap (in any
// order): the count of samples classified right, the number of samples, and the mean
// loss.
func Join(parts []Part) (correct, n int, loss float64, err error) {
	ps := slices.Clone(parts)
	slices.SortStableFunc(ps, func(a, b Part) int { return cmp.Compare(a.Lo, b.Lo) })
	var sum float64
	for _, p := range ps {
		if p.Lo != n {
			return 0, 0, 0, fmt.Errorf("evaluation parts do not join: a part starts at sample %d, the samples before it end at %d", p.Lo, n)
		}
		for _, l := range p.Losses {
			sum += l
		}
		correct += p.Correct
		n += len(p.Losses)
	}
	if n == 0 {
		return 0, 0, 0, errors.New("evaluation parts hold no samples")
	}
	return correct, n, sum / float64(n), nil
}
