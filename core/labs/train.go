package labs

import (
	"math"
	"runtime"
	"slices"
	"sync"

	"ladle/core/nn"
)

// trainConfig is one training run: plain SGD with momentum over shuffled
// mini-batches, L2 weight decay on the weights (not the biases), a learning rate that
// falls linearly to zero when decay is set, and an optional augmentation drawn per
// sample.
type trainConfig struct {
	epochs   int
	batch    int
	lr       float64
	momentum float64
	wd       float64
	decay    bool
	seed     uint64 // shuffling and augmentation
	augment  func(g *rng, px []float32)
	// classes, when set, restricts the loss to these outputs (a task's head made of
	// some of the shared head's outputs); the other outputs get no gradient.
	classes []int
	// frozen names tensors that do not move (e.g. a task's frozen head).
	frozen []string
}

// train runs cfg on the network in place.
func (n *net) train(d *set, cfg trainConfig) {
	if cfg.batch <= 0 {
		cfg.batch = 32
	}
	shuffle := newRNG(cfg.seed, "shuffle")
	aug := newRNG(cfg.seed, "augment")
	f := n.inSize()
	x := make([]float32, cfg.batch*f)
	labels := make([]int, cfg.batch)
	dout := make([]float32, cfg.batch*n.outSize())
	for _, p := range n.params {
		clear(p.mom)
	}
	steps := cfg.epochs * ((d.Len() + cfg.batch - 1) / cfg.batch)
	step := 0
	for range cfg.epochs {
		order := shuffle.perm(d.Len())
		for lo := 0; lo < len(order); lo += cfg.batch {
			hi := min(lo+cfg.batch, len(order))
			b := hi - lo
			for k, i := range order[lo:hi] {
				px := x[k*f : (k+1)*f]
				copy(px, d.sample(i))
				if cfg.augment != nil {
					cfg.augment(aug, px)
				}
				labels[k] = d.y[i]
			}
			p := n.forward(x[:b*f], b, true)
			lossGrad(p.output(), labels[:b], dout[:b*n.outSize()], cfg.classes)
			for _, prm := range n.params {
				clear(prm.grad)
			}
			n.backward(p, dout[:b*n.outSize()])
			lr := cfg.lr
			if cfg.decay {
				lr = cfg.lr * float64(steps-step) / float64(steps)
			}
			n.step(float32(lr), float32(cfg.momentum), float32(cfg.wd), cfg.frozen)
			step++
		}
	}
}

// step is PyTorch's SGD update: g = grad + wd·w (weights only), v = μ·v + g,
// w = w − lr·v.
func (n *net) step(lr, mu, wd float32, frozen []string) {
	for _, p := range n.params {
		if slices.Contains(frozen, p.name) {
			continue
		}
		for i, g := range p.grad {
			if p.decay && wd != 0 {
				g += float32(wd * p.data[i])
			}
			v := float32(mu*p.mom[i]) + g
			p.mom[i] = v
			p.data[i] -= float32(lr * v)
		}
	}
}

// lossGrad writes the gradient of the mean cross-entropy of the batch into dout,
// over all outputs or only over classes (the others get 0).
func lossGrad(out []float32, labels []int, dout []float32, classes []int) {
	if classes == nil {
		softmaxCE(out, labels, dout, true)
		return
	}
	k := len(out) / len(labels)
	clear(dout)
	sub := make([]float32, len(labels)*len(classes))
	dsub := make([]float32, len(sub))
	ys := make([]int, len(labels))
	for i, y := range labels {
		ys[i] = -1
		for j, c := range classes {
			sub[i*len(classes)+j] = out[i*k+c]
			if c == y {
				ys[i] = j
			}
		}
		if ys[i] < 0 {
			panic("labs: a training label outside the task's classes")
		}
	}
	softmaxCE(sub, ys, dsub, true)
	for i := range labels {
		for j, c := range classes {
			dout[i*k+c] = dsub[i*len(classes)+j]
		}
	}
}

// softmaxCE returns the mean cross-entropy of logits (rows of len(out)/len(labels))
// against labels, in float64 summed in order; with grad it writes the gradient of
// that mean with respect to the logits into dout.
func softmaxCE(out []float32, labels []int, dout []float32, grad bool) float64 {
	k := len(out) / len(labels)
	var total float64
	e := make([]float64, k)
	for i, y := range labels {
		row := out[i*k : (i+1)*k]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = max(mx, float64(v))
		}
		var s float64
		for j, v := range row {
			e[j] = exp(float64(v) - mx)
			s += e[j]
		}
		total += log(s) + mx - float64(row[y])
		if grad {
			inv := 1 / float64(len(labels))
			for j := range row {
				p := e[j] / s
				if j == y {
					p--
				}
				dout[i*k+j] = float32(float64(p * inv))
			}
		}
	}
	return total / float64(len(labels))
}

// score is a model's accuracy and mean loss on a set.
type score struct {
	Accuracy float64
	Loss     float64
	Correct  int
	N        int
}

// evalBatch is how many samples evaluate runs at a time (results do not depend on it).
const evalBatch = 256

// evaluate scores the network on d (argmax over all outputs, first on ties; loss as
// softmaxCE, summed in sample order).
func (n *net) evaluate(d *set) score {
	return n.evaluateOn(d, nil)
}

// evaluateOn scores the network with its prediction restricted to the given classes
// (a task head made of some of the shared head's outputs); nil means all of them.
// The loss is the cross-entropy over those outputs.
func (n *net) evaluateOn(d *set, classes []int) score {
	f, k := n.inSize(), n.outSize()
	if classes == nil {
		classes = make([]int, k)
		for i := range classes {
			classes[i] = i
		}
	}
	pos := make(map[int]int, len(classes))
	for i, c := range classes {
		pos[c] = i
	}
	var sc score
	var loss float64
	sub := make([]float32, 0, len(classes))
	for lo := 0; lo < d.Len(); lo += evalBatch {
		hi := min(lo+evalBatch, d.Len())
		out := n.forward(d.x[lo*f:hi*f], hi-lo, false).output()
		for i := range hi - lo {
			row := out[i*k : (i+1)*k]
			sub = sub[:0]
			for _, c := range classes {
				sub = append(sub, row[c])
			}
			y, ok := pos[d.y[lo+i]]
			if !ok {
				continue // not a sample of these classes
			}
			best := 0
			for j, v := range sub {
				if v > sub[best] {
					best = j
				}
			}
			if best == y {
				sc.Correct++
			}
			loss += softmaxCE(sub, []int{y}, nil, false)
			sc.N++
		}
	}
	if sc.N > 0 {
		sc.Accuracy = float64(sc.Correct) / float64(sc.N)
		sc.Loss = loss / float64(sc.N)
	}
	return sc
}

// parallel runs f(0) … f(k−1) on up to GOMAXPROCS goroutines. Each call must only
// write its own results: the outcome does not depend on the scheduling.
func parallel(k int, f func(i int)) {
	workers := max(1, min(runtime.GOMAXPROCS(0), k))
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range k {
		next <- i
	}
	close(next)
	wg.Wait()
}

// evalTensors scores a network of spec with the given weights on d (restricted to
// classes when not nil, as evaluateOn).
func evalTensors(spec archSpec, ts map[string]nn.Tensor, d *set, classes []int) (score, error) {
	n, err := newNet(spec)
	if err != nil {
		return score{}, err
	}
	if err := n.load(ts); err != nil {
		return score{}, err
	}
	return n.evaluateOn(d, classes), nil
}
