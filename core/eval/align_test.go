package eval

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"ladle/core/nn"
)

// bruteAssignment is the best Σ w[i][perm[i]] over all n! permutations.
func bruteAssignment(w []float64, n int) float64 {
	perm := identity(n)
	best := math.Inf(-1)
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			s := 0.0
			for i, j := range perm {
				s += w[i*n+j]
			}
			best = math.Max(best, s)
			return
		}
		for i := k; i < n; i++ {
			perm[k], perm[i] = perm[i], perm[k]
			rec(k + 1)
			perm[k], perm[i] = perm[i], perm[k]
		}
	}
	rec(0)
	return best
}

func TestLinearAssignmentMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 400 {
		n := 1 + trial%8
		w := make([]float64, n*n)
		for i := range w {
			switch trial % 3 {
			case 0:
				w[i] = rng.NormFloat64()
			case 1:
				w[i] = float64(rng.IntN(4)) // many ties
			default:
				w[i] = rng.Float64()*1e6 - 5e5
			}
		}
		perm, got, err := LinearAssignment(w, n)
		if err != nil {
			t.Fatal(err)
		}
		if !isPermutation(perm, n) {
			t.Fatalf("n=%d: %v is not a permutation", n, perm)
		}
		s := 0.0
		for i, j := range perm {
			s += w[i*n+j]
		}
		want := bruteAssignment(w, n)
		if math.Abs(s-got) > 1e-9*math.Max(1, math.Abs(want)) || math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Fatalf("trial %d, n=%d: assignment value %v (reported %v), brute force %v", trial, n, s, got, want)
		}
	}
	// Edge cases.
	if p, v, err := LinearAssignment(nil, 0); err != nil || len(p) != 0 || v != 0 {
		t.Errorf("empty: %v %v %v", p, v, err)
	}
	if _, _, err := LinearAssignment([]float64{1, 2, 3}, 2); err == nil {
		t.Error("wrong length accepted")
	}
	if _, _, err := LinearAssignment([]float64{1, math.NaN(), 3, 4}, 2); err == nil || !strings.Contains(err.Error(), "(0, 1)") {
		t.Errorf("NaN: %v", err)
	}
	// A large one runs in a moment and is a permutation that beats the identity.
	n := 300
	w := make([]float64, n*n)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	perm, v, err := LinearAssignment(w, n)
	if err != nil || !isPermutation(perm, n) {
		t.Fatal(err)
	}
	id := 0.0
	for i := range n {
		id += w[i*n+i]
	}
	if v < id {
		t.Errorf("%v below the identity's %v", v, id)
	}
}

// randomPerms draws a permutation for every permutable layer.
func randomPerms(t *testing.T, arch *nn.Arch, ts map[string]nn.Tensor, seed uint64) map[string][]int {
	t.Helper()
	shapes := map[string][]int{}
	for k, v := range ts {
		shapes[k] = v.Shape
	}
	spec, err := buildPermSpec(arch, shapes)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 9))
	out := map[string][]int{}
	for _, g := range spec.groups {
		out[g.layer] = rng.Perm(g.size)
	}
	return out
}

func assertSameFunction(t *testing.T, what string, arch *nn.Arch, a, b map[string]nn.Tensor, d *Dataset) {
	t.Helper()
	oa, ob := forward(t, arch, a, d), forward(t, arch, b, d)
	worst := 0.0
	for i := range oa {
		diff := math.Abs(float64(oa[i]) - float64(ob[i]))
		if diff > 1e-5*math.Max(1, math.Abs(float64(oa[i]))) {
			t.Fatalf("%s: output %d is %v, was %v", what, i, ob[i], oa[i])
		}
		worst = math.Max(worst, diff)
	}
	t.Logf("%s: %d outputs agree, largest difference %.2g", what, len(oa), worst)
}

func l2(a, b map[string]nn.Tensor) float64 {
	s := 0.0
	for k, t := range a {
		if strings.HasSuffix(k, "num_batches_tracked") {
			continue
		}
		for i, v := range t.Data {
			d := float64(v) - float64(b[k].Data[i])
			s += d * d
		}
	}
	return math.Sqrt(s)
}

func TestPermuteKeepsTheFunction(t *testing.T) {
	d := subset(t, digits(t), 0, 400)
	for _, c := range []struct {
		name string
		arch *nn.Arch
		ts   map[string]nn.Tensor
		axes map[string][]string
	}{
		{"mlp", mlpArch(t), mlpInit(1, 32, 24), map[string][]string{
			"fc1": {"fc1.weight:0", "fc1.bias:0", "fc2.weight:1"},
			"fc2": {"fc2.weight:0", "fc2.bias:0", "fc3.weight:1"}}},
		{"cnn", cnnArch(t), cnnInit(1), map[string][]string{
			"c1":  {"c1.weight:0", "c1.bias:0", "bn1.weight:0", "bn1.bias:0", "bn1.running_mean:0", "bn1.running_var:0", "c2.weight:1"},
			"c2":  {"c2.weight:0", "c2.bias:0", "bn2.weight:0", "bn2.bias:0", "bn2.running_mean:0", "bn2.running_var:0", "fc1.weight:1"},
			"fc1": {"fc1.weight:0", "fc1.bias:0", "fc2.weight:1"}}},
	} {
		perms := randomPerms(t, c.arch, c.ts, 5)
		p, err := Permute(c.arch, c.ts, perms)
		if err != nil {
			t.Fatal(err)
		}
		assertSameFunction(t, c.name+" permuted", c.arch, c.ts, p, d)
		if l2(c.ts, p) == 0 {
			t.Errorf("%s: the permutation changed nothing", c.name)
		}
		_, rep, err := Align(c.arch, c.ts, p, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Groups) != len(c.axes) {
			t.Fatalf("%s: groups %+v", c.name, rep.Groups)
		}
		for _, g := range rep.Groups {
			if strings.Join(g.Axes, " ") != strings.Join(c.axes[g.Layer], " ") {
				t.Errorf("%s: group %s has axes %v, want %v", c.name, g.Layer, g.Axes, c.axes[g.Layer])
			}
		}
	}
}

// Aligning a permutation of the reference recovers the reference bit for bit.
func TestAlignRecoversAPermutation(t *testing.T) {
	d := subset(t, digits(t), 0, 1000)
	for _, c := range []struct {
		name string
		arch *nn.Arch
		ts   map[string]nn.Tensor
	}{
		{"mlp", mlpArch(t), mlpInit(2, 48, 32)},
		{"cnn", cnnArch(t), cnnInit(2)},
	} {
		train(t, c.arch, c.ts, d, 2, 0.05, 1)
		for seed := range uint64(3) {
			b, err := Permute(c.arch, c.ts, randomPerms(t, c.arch, c.ts, 10+seed))
			if err != nil {
				t.Fatal(err)
			}
			got, rep, err := Align(c.arch, c.ts, b, seed)
			if err != nil {
				t.Fatal(err)
			}
			for k, tt := range c.ts {
				for i, v := range tt.Data {
					if math.Float32bits(got[k].Data[i]) != math.Float32bits(v) {
						t.Fatalf("%s seed %d: %s[%d] = %v, want %v (report %+v)", c.name, seed, k, i, got[k].Data[i], v, rep)
					}
				}
			}
			if rep.DistanceAfter != 0 || rep.DistanceBefore == 0 {
				t.Errorf("%s: distance %v → %v", c.name, rep.DistanceBefore, rep.DistanceAfter)
			}
			t.Logf("%s seed %d: recovered in %d sweeps, distance %.3f → %v", c.name, seed, rep.Sweeps, rep.DistanceBefore, rep.DistanceAfter)
		}
	}
}

// Two models trained from different initialisations: the aligned one computes the
// same function, is closer to the reference, and the interpolation barrier drops.
func TestAlignIndependentModels(t *testing.T) {
	all := digits(t)
	tr, te := subset(t, all, 0, 1200), subset(t, all, 1200, all.Len())
	for _, c := range []struct {
		name   string
		arch   *nn.Arch
		a, b   map[string]nn.Tensor
		epochs int
		lr     float64
	}{
		{"mlp", mlpArch(t), mlpInit(3, 64, 64), mlpInit(4, 64, 64), 8, 0.05},
		{"cnn", cnnArch(t), cnnInit(3), cnnInit(4), 4, 0.05},
	} {
		train(t, c.arch, c.a, tr, c.epochs, c.lr, 1)
		train(t, c.arch, c.b, tr, c.epochs, c.lr, 2)
		aligned, rep, err := Align(c.arch, c.a, c.b, 7)
		if err != nil {
			t.Fatal(err)
		}
		assertSameFunction(t, c.name+" aligned", c.arch, c.b, aligned, te)
		if !(rep.DistanceAfter < rep.DistanceBefore) || !(rep.ObjectiveAfter > rep.ObjectiveBefore) {
			t.Errorf("%s: distance %v → %v, objective %v → %v", c.name, rep.DistanceBefore, rep.DistanceAfter, rep.ObjectiveBefore, rep.ObjectiveAfter)
		}
		if got := l2(c.a, aligned); math.Abs(got-rep.DistanceAfter) > 1e-6*got {
			t.Errorf("%s: reported distance %v, measured %v", c.name, rep.DistanceAfter, got)
		}
		if b := c.b["fc1.weight"].Data[0]; aligned["fc1.weight"].Data[0] == b && rep.Groups[0].Moved == 0 {
			t.Errorf("%s: nothing moved", c.name)
		}
		// Same seed, same result; the input is left alone.
		again, rep2, err := Align(c.arch, c.a, c.b, 7)
		if err != nil || rep2.DistanceAfter != rep.DistanceAfter || l2(again, aligned) != 0 {
			t.Errorf("%s: not deterministic: %v vs %v (%v)", c.name, rep2.DistanceAfter, rep.DistanceAfter, err)
		}
		before, err := Interpolate(c.arch, c.a, c.b, te, Options{Points: 11})
		if err != nil {
			t.Fatal(err)
		}
		after, err := Interpolate(c.arch, c.a, aligned, te, Options{Points: 11})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d sweeps, L2 distance %.3f → %.3f, objective %.1f → %.1f, loss barrier %.3f → %.3f, midpoint accuracy %.3f → %.3f",
			c.name, rep.Sweeps, rep.DistanceBefore, rep.DistanceAfter, rep.ObjectiveBefore, rep.ObjectiveAfter,
			before.Barrier, after.Barrier, before.Points[5].Accuracy, after.Points[5].Accuracy)
		if after.Barrier > before.Barrier {
			t.Errorf("%s: barrier rose from %v to %v after alignment", c.name, before.Barrier, after.Barrier)
		}
	}
}

func TestAlignErrors(t *testing.T) {
	arch := mlpArch(t)
	a, b := mlpInit(1, 16, 8), mlpInit(2, 16, 9)
	if _, _, err := Align(arch, a, b, 0); err == nil || !strings.Contains(err.Error(), "fc2") {
		t.Errorf("shape mismatch: %v", err)
	}
	delete(b, "fc1.bias")
	if _, _, err := Align(arch, a, b, 0); err == nil || !strings.Contains(err.Error(), "fc1.bias") {
		t.Errorf("missing tensor: %v", err)
	}
	if _, err := Permute(arch, a, map[string][]int{"fc1": {0, 0, 1}}); err == nil || !strings.Contains(err.Error(), "not a permutation") {
		t.Errorf("bad permutation: %v", err)
	}
	if _, err := Permute(arch, a, map[string][]int{"fc3": identity(10)}); err == nil || !strings.Contains(err.Error(), "fc3") {
		t.Errorf("output layer permuted: %v", err)
	}
	tied := parseArch(t, `{"input_shape": [4], "layers": [{"op": "linear", "name": "w"}, {"op": "relu"}, {"op": "linear", "name": "w"}]}`)
	ts := map[string]nn.Tensor{"w.weight": {Shape: []int{4, 4}, Data: make([]float32, 16)}, "w.bias": {Shape: []int{4}, Data: make([]float32, 4)}}
	if _, _, err := Align(tied, ts, ts, 0); err == nil || !strings.Contains(err.Error(), "tying") {
		t.Errorf("tied weights: %v", err)
	}
	// A single layer has nothing to permute: the model comes back as it was.
	single := parseArch(t, `{"input_shape": [4], "layers": [{"op": "linear", "name": "fc"}]}`)
	one := map[string]nn.Tensor{"fc.weight": {Shape: []int{3, 4}, Data: make([]float32, 12)}, "fc.bias": {Shape: []int{3}, Data: []float32{1, 2, 3}}}
	got, rep, err := Align(single, one, one, 0)
	if err != nil || rep.Sweeps != 0 || len(rep.Groups) != 0 || got["fc.bias"].Data[2] != 3 {
		t.Errorf("single layer: %+v %v", rep, err)
	}
}
