package eval

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"ladle/core/nn"
)

// TestSplitSamples checks that the ranges cover the samples in order and differ in
// size by one at most.
func TestSplitSamples(t *testing.T) {
	for _, n := range []int{0, 1, 7, 100, 1024, 10000, 10001} {
		for count := 1; count <= 5; count++ {
			b := SplitSamples(n, count)
			if len(b) != count+1 || b[0] != 0 || b[count] != n || !slices.IsSorted(b) {
				t.Fatalf("SplitSamples(%d, %d) = %v", n, count, b)
			}
			for i := range count {
				if size := b[i+1] - b[i]; size < n/count || size > n/count+1 {
					t.Errorf("SplitSamples(%d, %d) = %v: part %d has %d samples", n, count, b, i, size)
				}
			}
		}
	}
}

// TestPartsCombineExactly evaluates a dataset in 1 to 5 parts, combined in shuffled
// order, and wants the whole evaluation's result bit for bit, and the loss summed
// naively in sample order.
func TestPartsCombineExactly(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ts := toyTensors(rng, 3)
	d := toyData(rng, 103)
	m, err := nn.NewModel(toyArch(t, ""), ts)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := Evaluate(m, d, 7)
	if err != nil {
		t.Fatal(err)
	}
	// the naive reference: each sample's loss, summed one after the other
	var sum float64
	out := make([]float32, 3)
	for i := range d.Len() {
		if err := m.ForwardInto(out, d.Batch(nil, i, i+1), 1); err != nil {
			t.Fatal(err)
		}
		sum += m.NLL(out, d.Labels[i])
	}
	if whole.Loss != sum/float64(d.Len()) {
		t.Fatalf("whole loss %v, naive sequential sum gives %v", whole.Loss, sum/float64(d.Len()))
	}
	for count := 1; count <= 5; count++ {
		b := SplitSamples(d.Len(), count)
		var parts []Part
		for i := range count {
			var last, total int
			p, err := EvaluatePart(context.Background(), m, d, b[i], b[i+1], 7, func(done, n int) { last, total = done, n })
			if err != nil {
				t.Fatal(err)
			}
			if b[i] < b[i+1] && (last != total || total != b[i+1]-b[i]) {
				t.Errorf("part %d of %d: progress ended at %d of %d, want %d", i, count, last, total, b[i+1]-b[i])
			}
			parts = append(parts, p)
		}
		rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		got, err := Combine(parts)
		if err != nil {
			t.Fatal(err)
		}
		if got != whole {
			t.Errorf("%d parts: %+v, want %+v", count, got, whole)
		}
	}
}

func TestCombineErrors(t *testing.T) {
	gap := []Part{{Lo: 0, Losses: []float64{1, 2}}, {Lo: 3, Losses: []float64{1}}}
	if _, err := Combine(gap); err == nil {
		t.Error("parts with a gap combined")
	}
	overlap := []Part{{Lo: 0, Losses: []float64{1, 2}}, {Lo: 1, Losses: []float64{1}}}
	if _, err := Combine(overlap); err == nil {
		t.Error("overlapping parts combined")
	}
	if _, err := Combine(nil); err == nil {
		t.Error("no parts combined")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := nn.NewModel(toyArch(t, ""), toyTensors(rng, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EvaluatePart(context.Background(), m, toyData(rng, 10), 5, 11, 0, nil); err == nil {
		t.Error("a range past the end was evaluated")
	}
}
