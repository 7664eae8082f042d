package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"ladle/core/nn"
	"ladle/core/tensor"
)

// FisherOptions tune Fisher; the zero value uses every sample, seed 0 and one
// goroutine per core.
type FisherOptions struct {
	// Samples is how many samples of the dataset to use: 0 (or more than there are)
	// means all; otherwise a subset of that size drawn with Seed, processed in
	// dataset order.
	Samples int
	// Seed keys the labels drawn from the model's predictions and the subset.
	Seed uint64
	// Threads bounds the goroutines (0: GOMAXPROCS). The result does not depend on it.
	Threads int
}

// fisherBlock is how many samples one goroutine sums before its partial sum is added
// to the total; the blocks depend only on the samples, so the result does not depend
// on the number of goroutines.
const fisherBlock = 16

// FisherLabelStream is the tensor name that keys the generator of the labels Fisher
// draws: sample i (its index in the dataset) gets the label at which the running sum
// of the model's predicted probabilities first exceeds
// tensor.NewRNG(seed, 0, FisherLabelStream).Float64(i) times their total.
const FisherLabelStream = "ladle.fisher.label"

// Fisher estimates the diagonal of the Fisher information of the model at its
// parameters: for each parameter, the mean over the samples x of (∂ log p(y | x) /
// ∂θ)², with y drawn from the model's own predictive distribution p(· | x) (the
// "true" Fisher, as in Fisher-weighted averaging; not the empirical Fisher that uses
// the dataset's labels). Batchnorm layers use their running statistics (eval mode).
//
// Gradients are exact per-sample gradients (one recorded pass and one backward pass
// per sample), squared and summed in float64, in blocks of samples in dataset order,
// and rounded to float32 once; the same model, data and options give the same bits
// whatever Threads is. The result maps every parameter the model reads to a tensor of
// its shape; running statistics, which no gradient reaches, get zeros.
func Fisher(m *nn.Model, d *Dataset, opt FisherOptions) (map[string]nn.Tensor, error) {
	if err := Compatible(m, d); err != nil {
		return nil, err
	}
	idx := fisherSamples(d.Len(), opt.Samples, opt.Seed)
	params := m.Params()
	offsets := make([]int, len(params)+1)
	for i, p := range params {
		size := 0
		if p.Trainable {
			size = len(p.Data)
		}
		offsets[i+1] = offsets[i] + size
	}
	total := make([]float64, offsets[len(params)])
	workers := opt.Threads
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	blocks := (len(idx) + fisherBlock - 1) / fisherBlock
	workers = max(1, min(workers, blocks))
	partial := make([][]float64, workers)
	errs := make([]error, workers)
	for w := range partial {
		partial[w] = make([]float64, len(total))
	}
	for round := 0; round < blocks; round += workers {
		var wg sync.WaitGroup
		for w := 0; w < workers && round+w < blocks; w++ {
			b := round + w
			lo, hi := b*fisherBlock, min((b+1)*fisherBlock, len(idx))
			wg.Add(1)
			go func() {
				defer wg.Done()
				clear(partial[w])
				errs[w] = fisherBlockSums(m, d, idx[lo:hi], opt.Seed, partial[w], offsets)
			}()
		}
		wg.Wait()
		for w := 0; w < workers && round+w < blocks; w++ {
			if errs[w] != nil {
				return nil, errs[w]
			}
			for i, v := range partial[w] {
				total[i] += v
			}
		}
	}
	out := make(map[string]nn.Tensor, len(params))
	n := float64(len(idx))
	for i, p := range params {
		data := make([]float32, len(p.Data))
		if p.Trainable {
			for j, v := range total[offsets[i]:offsets[i+1]] {
				data[j] = float32(v / n)
			}
		}
		out[p.Name] = nn.Tensor{Shape: append([]int(nil), p.Shape...), Data: data}
	}
	return out, nil
}

// fisherSamples lists the samples to use, in dataset order.
func fisherSamples(n, want int, seed uint64) []int {
	if want <= 0 || want >= n {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	rng := rand.New(rand.NewPCG(seed, 0x666973686572)) // "fisher"
	idx := rng.Perm(n)[:want]
	slices.Sort(idx)
	return idx
}

// fisherBlockSums adds the squared per-sample gradients of samples to acc.
func fisherBlockSums(m *nn.Model, d *Dataset, samples []int, seed uint64, acc []float64, offsets []int) error {
	kind := m.OutputKind()
	classes := m.OutputSize()
	g := m.NewGrads()
	dout := make([]float32, classes)
	var x []float32
	for _, s := range samples {
		x = d.Batch(x, s, s+1)
		pass, err := m.Record(x, 1, nn.Eval)
		if err != nil {
			return err
		}
		out := pass.Output()
		y, err := SampleLabel(out, kind, seed, s)
		if err != nil {
			return fmt.Errorf("%s: sample %d: %w", d.name(), s, err)
		}
		if _, err := nn.CrossEntropy(out, []int{y}, kind, dout); err != nil {
			return err
		}
		g.Zero()
		if _, err := pass.Backward(dout, g); err != nil {
			return err
		}
		for i := range offsets[:len(offsets)-1] {
			gr := g.At(i)
			if gr == nil {
				continue
			}
			a := acc[offsets[i]:offsets[i+1]]
			for j, v := range gr {
				f := float64(v)
				a[j] += float64(f * f) // explicit rounding: no fused multiply-add
			}
		}
	}
	return nil
}

// SampleLabel draws the label of sample i (its index in the dataset) from the
// predictive distribution of one output row of the given kind, as Fisher does (see
// FisherLabelStream). Its exp is tensor.Exp, so that a row draws the same label on
// every target (package math's Exp is assembly on amd64).
func SampleLabel(row []float32, kind nn.OutputKind, seed uint64, i int) (int, error) {
	p := make([]float64, len(row))
	total := 0.0
	switch kind {
	case nn.Probs:
		for c, v := range row {
			p[c] = max(float64(v), 0)
		}
	case nn.LogProbs:
		for c, v := range row {
			p[c] = tensor.Exp(float64(v))
		}
	default:
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		for c, v := range row {
			p[c] = tensor.Exp(float64(v) - mx)
		}
	}
	for _, v := range p {
		total += v
	}
	if !(total > 0) || math.IsInf(total, 0) {
		return 0, fmt.Errorf("the model's output %v is not a probability distribution (NaN, Inf or all zero)", row)
	}
	u := tensor.NewRNG(seed, 0, FisherLabelStream).Float64(int64(i)) * total
	last := 0
	run := 0.0
	for c, v := range p {
		if v <= 0 {
			continue
		}
		run += v
		last = c
		if u < run {
			return c, nil
		}
	}
	return last, nil
}
