package tensor

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
)

func TestGlobalTopKAgainstSort(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for trial := range 12 {
		nt := 1 + r.IntN(6)
		xs, bases := make([][]float32, nt), make([][]float32, nt)
		total := 0
		for i := range xs {
			n := r.IntN(30000)
			if trial%3 == 0 {
				n = r.IntN(20)
			}
			levels := []int{1, 4, 300}[trial%3]
			xs[i], bases[i] = tiedSlice(r, n, levels), tiedSlice(r, n, levels)
			total += n
		}
		for _, density := range []float64{0, 0.001, 0.1, 0.37, 0.5, 0.9, 1} {
			g, err := NewGlobalTopK(density)
			if err != nil {
				t.Fatal(err)
			}
			// Pass order scrambled and concurrent: the result depends only on pos.
			perm := r.Perm(nt)
			var wg sync.WaitGroup
			for _, i := range perm {
				wg.Go(func() {
					if err := g.Pass1(xs[i], bases[i]); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if g.EndPass1() {
				for _, i := range perm {
					wg.Go(func() {
						if err := g.Pass2(i, xs[i], bases[i]); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
				if err := g.EndPass2(); err != nil {
					t.Fatal(err)
				}
			}
			k := int(math.Floor(density * float64(total)))
			if g.K() != int64(k) {
				t.Fatalf("K %d want %d", g.K(), k)
			}
			// Reference: one stable sort over the concatenated deltas in pos order.
			var all []float32
			for i := range xs {
				for j := range xs[i] {
					all = append(all, xs[i][j]-bases[i][j])
				}
			}
			idx := make([]int, len(all))
			for i := range idx {
				idx[i] = i
			}
			sort.SliceStable(idx, func(a, b int) bool { return AbsKey(all[idx[a]]) > AbsKey(all[idx[b]]) })
			want := make([]bool, len(all))
			for _, i := range idx[:k] {
				want[i] = true
			}
			off, kept := 0, 0
			for i := range xs {
				c, err := g.Cut(i)
				if err != nil {
					t.Fatal(err)
				}
				b := c.Bound(xs[i], bases[i])
				for j := range xs[i] {
					keep := b.Keep(int64(j), AbsKey(xs[i][j]-bases[i][j]))
					if keep != want[off+j] {
						t.Fatalf("trial %d density %v tensor %d element %d: keep=%v want %v", trial, density, i, j, keep, want[off+j])
					}
					if keep {
						kept++
					}
				}
				off += len(xs[i])
			}
			if kept != k {
				t.Fatalf("kept %d want %d", kept, k)
			}
		}
	}
}

func TestGlobalTopKMisuse(t *testing.T) {
	if _, err := NewGlobalTopK(1.5); err == nil {
		t.Error("density 1.5 accepted")
	}
	if _, err := NewGlobalTopK(math.NaN()); err == nil {
		t.Error("NaN density accepted")
	}
	g, _ := NewGlobalTopK(0.5)
	if _, err := g.Cut(0); err == nil {
		t.Error("Cut before passes")
	}
	if err := g.Pass2(0, []float32{1}, nil); err == nil {
		t.Error("Pass2 before EndPass1")
	}
	x := []float32{1, 2, 3, 4}
	_ = g.Pass1(x, nil)
	if !g.EndPass1() {
		t.Fatal("expected a second pass")
	}
	if err := g.Pass1(x, nil); err == nil {
		t.Error("Pass1 after EndPass1")
	}
	if err := g.Pass2(0, x, []float32{1}); err == nil {
		t.Error("length mismatch accepted")
	}
	_ = g.Pass2(0, x, nil)
	if err := g.Pass2(0, x, nil); err == nil {
		t.Error("duplicate pos accepted")
	}
	g2, _ := NewGlobalTopK(0.5)
	_ = g2.Pass1(x, nil)
	g2.EndPass1()
	_ = g2.Pass2(0, []float32{9, 9, 9, 9}, nil) // different data than pass 1
	if err := g2.EndPass2(); err == nil {
		t.Error("changed data between passes not detected")
	}
}
