package labs

import (
	"math"
	"testing"

	"ladle/core/nn"
)

// The portable exp and log agree with package math to the last bit or two.
func TestExpLog(t *testing.T) {
	g := newRNG(1, "test-explog")
	for i := 0; i < 20000; i++ {
		x := g.uniform(-700, 700)
		if got, want := exp(x), math.Exp(x); math.Abs(got-want) > 5e-16*want {
			t.Fatalf("exp(%v) = %v, want %v", x, got, want)
		}
		y := math.Exp(g.uniform(-700, 700))
		if got, want := log(y), math.Log(y); math.Abs(got-want) > 4e-16*max(1, math.Abs(want)) {
			t.Fatalf("log(%v) = %v, want %v", y, got, want)
		}
	}
	for _, c := range []struct{ x, want float64 }{{0, 1}, {math.Inf(-1), 0}, {1000, math.Inf(1)}, {-1000, 0}} {
		if got := exp(c.x); got != c.want {
			t.Errorf("exp(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	if log(1) != 0 || !math.IsInf(log(0), -1) || !math.IsNaN(log(-1)) {
		t.Errorf("log special cases: %v %v %v", log(1), log(0), log(-1))
	}
	for i := 0; i <= 1000; i++ {
		u := float64(i) / 1000
		if got, want := cos2pi(u), math.Cos(2*math.Pi*u); math.Abs(got-want) > 1e-14 {
			t.Fatalf("cos2pi(%v) = %v, want %v", u, got, want)
		}
	}
}

// Draws are a pure function of (seed, purpose, index); normal draws have mean 0 and
// variance 1; perm is a permutation.
func TestRNG(t *testing.T) {
	a, b := newRNG(3, "x"), newRNG(3, "x")
	c := newRNG(3, "y")
	same := 0
	for range 100 {
		va, vb, vc := a.float64(), b.float64(), c.float64()
		if va != vb {
			t.Fatal("two streams of one seed and purpose differ")
		}
		if va == vc {
			same++
		}
	}
	if same > 1 {
		t.Error("streams of different purposes coincide")
	}
	g := newRNG(4, "normal")
	var s, s2 float64
	const n = 200000
	for range n {
		v := g.normal()
		s += v
		s2 += v * v
	}
	if mean, v := s/n, s2/n-(s/n)*(s/n); math.Abs(mean) > 0.01 || math.Abs(v-1) > 0.01 {
		t.Errorf("normal: mean %v variance %v", mean, v)
	}
	p := newRNG(5, "perm").perm(50)
	seen := map[int]bool{}
	for _, v := range p {
		seen[v] = true
	}
	if len(seen) != 50 {
		t.Errorf("perm %v is not a permutation", p)
	}
	for range 1000 {
		if v := g.intn(7); v < 0 || v >= 7 {
			t.Fatalf("intn(7) = %d", v)
		}
	}
}

// testSpecs are the lab architectures (and a conv net without pooling).
func testSpecs() map[string]archSpec {
	return map[string]archSpec{
		"soups":   soupsSpec,
		"rws":     rwsSpec,
		"rebasin": rebasinSpec,
		"convnet": {input: []int{1, 8, 8}, scale: 1.0 / 16, layers: []layerSpec{conv("c1", 3), relu(), conv("c2", 4), flatten(), linear("fc", 10)}},
	}
}

// The trainer's forward pass and gradients agree with package nn's (the reference
// inference engine, tested against PyTorch semantics) on the lab architectures.
func TestAgreesWithNN(t *testing.T) {
	all, err := loadDigits()
	if err != nil {
		t.Fatal(err)
	}
	const batch = 24
	x := all.x[:batch*digitsFeatures]
	labels := all.y[:batch]
	for name, spec := range testSpecs() {
		t.Run(name, func(t *testing.T) {
			n, err := newNet(spec)
			if err != nil {
				t.Fatal(err)
			}
			n.init(9)
			ts := n.tensors()
			m, err := nn.NewModel(spec.Arch(), ts)
			if err != nil {
				t.Fatal(err)
			}
			want, err := m.Forward(x, batch)
			if err != nil {
				t.Fatal(err)
			}
			p := n.forward(x, batch, true)
			got := p.output()
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*max(1, math.Abs(float64(want[i]))) {
					t.Fatalf("output %d: %v, package nn %v", i, got[i], want[i])
				}
			}
			// Gradients of the mean cross-entropy.
			dout := make([]float32, len(got))
			lossGrad(got, labels, dout, nil)
			n.backward(p, dout)
			rp, err := m.Record(x, batch, nn.Train)
			if err != nil {
				t.Fatal(err)
			}
			rdout := make([]float32, len(got))
			if _, err := nn.CrossEntropy(rp.Output(), labels, m.OutputKind(), rdout); err != nil {
				t.Fatal(err)
			}
			g := m.NewGrads()
			if _, err := rp.Backward(rdout, g); err != nil {
				t.Fatal(err)
			}
			for _, prm := range n.params {
				ref := g.Of(prm.name)
				scale := 0.0
				for _, v := range ref {
					scale = max(scale, math.Abs(float64(v)))
				}
				for i := range ref {
					if d := math.Abs(float64(prm.grad[i] - ref[i])); d > 1e-4*max(scale, 1e-3) {
						t.Fatalf("gradient of %s[%d]: %v, package nn %v", prm.name, i, prm.grad[i], ref[i])
					}
				}
			}
		})
	}
}

// A restricted loss gives no gradient to the other outputs and matches the full
// loss over a sub-head.
func TestLossGradRestricted(t *testing.T) {
	out := []float32{1, 2, 3, 4, 0.5, -1, 2, 0}
	dout := make([]float32, len(out))
	lossGrad(out, []int{2, 1}, dout, []int{1, 2})
	if dout[0] != 0 || dout[3] != 0 || dout[4] != 0 || dout[7] != 0 {
		t.Errorf("outputs outside the task got gradients: %v", dout)
	}
	sub := []float32{2, 3, -1, 2}
	dsub := make([]float32, 4)
	softmaxCE(sub, []int{1, 0}, dsub, true)
	if dout[1] != dsub[0] || dout[2] != dsub[1] || dout[5] != dsub[2] || dout[6] != dsub[3] {
		t.Errorf("restricted gradient %v, sub-head gradient %v", dout, dsub)
	}
}

// Training lowers the loss and is reproducible.
func TestTrainReproducible(t *testing.T) {
	all, err := loadDigits()
	if err != nil {
		t.Fatal(err)
	}
	sp := splitDigits(all, 1, 0.35, 0.2)
	run := func() (*net, score) {
		n, _ := newNet(taskSpec)
		n.init(1)
		n.train(sp.train, trainConfig{epochs: 2, batch: 32, lr: 0.05, momentum: 0.9, wd: 1e-4, seed: 2,
			augment: func(g *rng, px []float32) { addNoise(g, px, 1) }})
		return n, n.evaluate(sp.test)
	}
	a, sa := run()
	b, sb := run()
	for i, p := range a.params {
		for j, v := range p.data {
			if math.Float32bits(v) != math.Float32bits(b.params[i].data[j]) {
				t.Fatalf("%s[%d] differs between two runs", p.name, j)
			}
		}
	}
	if sa != sb || sa.Accuracy < 0.8 {
		t.Errorf("scores %+v and %+v", sa, sb)
	}
}

// The splits are disjoint, cover the data, and keep each class's proportions.
func TestSplits(t *testing.T) {
	all, err := loadDigits()
	if err != nil {
		t.Fatal(err)
	}
	if all.Len() != 1797 {
		t.Fatalf("%d digits, want 1797", all.Len())
	}
	sp := splitDigits(all, 1, 0.35, 0.2)
	if n := sp.train.Len() + sp.val.Len() + sp.test.Len(); n != all.Len() {
		t.Errorf("splits hold %d samples, want %d", n, all.Len())
	}
	key := func(s *set, i int) string { return string(float32sBytes(s.sample(i))) }
	seen := map[string]int{}
	for _, s := range []*set{sp.train, sp.val, sp.test} {
		for i := range s.Len() {
			seen[key(s, i)]++
		}
	}
	// Every image appears in the splits as often as in the data (a few are there twice).
	allSeen := map[string]int{}
	for i := range all.Len() {
		allSeen[key(all, i)]++
	}
	for k, v := range seen {
		if allSeen[k] != v {
			t.Fatalf("a sample appears %d times in the splits but %d times in the data", v, allSeen[k])
		}
	}
	for c := range digitsClasses {
		tc, ac := len(sp.test.classes(c).y), len(all.classes(c).y)
		if math.Abs(float64(tc)-0.35*float64(ac)) > 1 {
			t.Errorf("class %d: %d of %d in test", c, tc, ac)
		}
	}
}

func float32sBytes(v []float32) []byte {
	out := make([]byte, 0, 4*len(v))
	for _, f := range v {
		b := math.Float32bits(f)
		out = append(out, byte(b), byte(b>>8), byte(b>>16), byte(b>>24))
	}
	return out
}
