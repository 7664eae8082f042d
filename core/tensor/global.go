package tensor

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// GlobalTopK selects, exactly, the k = floor(density · N) largest magnitudes over a
// whole model of N elements (TIES' original model-wide trim, `trim_scope: model`),
// without ever holding more than one tensor: the caller streams the model's deltas
// through it twice and then asks for one Cut per tensor.
//
// Order: magnitude descending, equal magnitudes broken by LOWER global index, where the
// global index runs through the tensors in checkpoint order (the pos given to Pass2)
// and then through each tensor's elements.
//
// Use:
//
//	g, _ := NewGlobalTopK(density)
//	for each tensor (any order, concurrently OK): g.Pass1(x, base)
//	if g.EndPass1() {                                    // false: k = 0 or k = N
//	    for each tensor (any order, concurrently OK): g.Pass2(pos, x, base)
//	    g.EndPass2()
//	}
//	cut, _ := g.Cut(pos) // per tensor; resolve with cut.Bound(x, base)
//
// Pass 1 histograms the top 16 bits of every key; that fixes the 16-bit bin holding the
// k-th largest key. Pass 2 histograms the low 16 bits of the keys in that bin, globally
// and per tensor (kept sparse: at most min(entries in the bin, 65536) pairs of 6 bytes
// per tensor), which fixes the exact threshold key and how many elements equal to it
// each tensor keeps. Memory: two 512 KiB histograms plus the sparse per-tensor lists.
type GlobalTopK struct {
	mu      sync.Mutex
	density float64
	stage   int // 0: pass 1, 1: pass 2, 2: done
	total   int64
	k       int64
	high    *hist16
	low     *hist16
	hb      uint32 // chosen high bin
	need    uint64 // rank of the k-th key inside the bin
	tensors map[int]lowCounts
	key     uint32
	cuts    map[int]Cut
	all     Cut // the cut for every tensor when k = 0 or k = N
}

type lowCounts struct {
	lows   []uint16
	counts []uint64
}

// NewGlobalTopK starts a model-wide selection keeping floor(density·N) elements.
func NewGlobalTopK(density float64) (*GlobalTopK, error) {
	if !(density >= 0 && density <= 1) {
		return nil, fmt.Errorf("density %v must lie in [0, 1]", density)
	}
	return &GlobalTopK{density: density, high: new(hist16), tensors: map[int]lowCounts{}}, nil
}

// Pass1 adds one tensor's magnitudes (of x, or of x − base rounded to float32).
func (g *GlobalTopK) Pass1(x, base []float32) error {
	if base != nil && len(base) != len(x) {
		return fmt.Errorf("global top-k: base has %d elements, tensor %d", len(base), len(x))
	}
	h := histPool.Get().(*hist16)
	defer histPool.Put(h)
	clear(h[:])
	histHigh(h, x, base)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stage != 0 {
		return fmt.Errorf("global top-k: Pass1 after EndPass1")
	}
	for i, c := range h {
		g.high[i] += c
	}
	g.total += int64(len(x))
	return nil
}

// EndPass1 fixes k = floor(density·N) (computed in float64, as mergekit computes its
// per-tensor k) and reports whether a second pass is needed; when it is not (k = 0 or
// k = N), every Cut is CutNone or CutAll.
func (g *GlobalTopK) EndPass1() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.k = int64(math.Floor(g.density * float64(g.total)))
	g.k = max(0, min(g.k, g.total))
	switch {
	case g.k == 0:
		g.all, g.stage = CutNone, 2
		return false
	case g.k == g.total:
		g.all, g.stage = CutAll, 2
		return false
	}
	var above uint64
	g.hb, above = walkDown(g.high, uint64(g.k))
	g.need = uint64(g.k) - above
	g.low = new(hist16)
	g.stage = 1
	return true
}

// K is the number of elements kept (valid after EndPass1).
func (g *GlobalTopK) K() int64 { return g.k }

// Total is the number of elements seen in pass 1.
func (g *GlobalTopK) Total() int64 { return g.total }

// Pass2 adds one tensor again, with pos its position in checkpoint order (positions
// must be distinct; gaps are allowed). The data must be the same as in pass 1.
func (g *GlobalTopK) Pass2(pos int, x, base []float32) error {
	if base != nil && len(base) != len(x) {
		return fmt.Errorf("global top-k: base has %d elements, tensor %d", len(base), len(x))
	}
	h := histPool.Get().(*hist16)
	defer histPool.Put(h)
	clear(h[:])
	g.mu.Lock()
	stage, hb := g.stage, g.hb
	g.mu.Unlock()
	if stage != 1 {
		return fmt.Errorf("global top-k: Pass2 outside the second pass")
	}
	histLow(h, x, base, hb)
	var lc lowCounts
	for i, c := range h {
		if c != 0 {
			lc.lows = append(lc.lows, uint16(i))
			lc.counts = append(lc.counts, c)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, dup := g.tensors[pos]; dup {
		return fmt.Errorf("global top-k: tensor position %d given twice in pass 2", pos)
	}
	g.tensors[pos] = lc
	for i, l := range lc.lows {
		g.low[l] += lc.counts[i]
	}
	return nil
}

// EndPass2 fixes the threshold key and shares the elements equal to it among the
// tensors in position order.
func (g *GlobalTopK) EndPass2() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stage != 1 {
		return fmt.Errorf("global top-k: EndPass2 outside the second pass")
	}
	var inBin uint64
	for _, c := range g.low {
		inBin += c
	}
	if inBin != g.high[g.hb] {
		return fmt.Errorf("global top-k: pass 2 saw %d elements in the threshold bin, pass 1 saw %d; the tensors changed between passes or one was missed", inBin, g.high[g.hb])
	}
	lb, above := walkDown(g.low, g.need)
	g.key = g.hb<<16 | lb
	quota := int64(g.need - above) // equal elements kept, model-wide
	positions := make([]int, 0, len(g.tensors))
	for p := range g.tensors {
		positions = append(positions, p)
	}
	slices.Sort(positions)
	g.cuts = make(map[int]Cut, len(positions))
	for _, p := range positions {
		lc := g.tensors[p]
		eq := int64(0)
		if i, ok := slices.BinarySearch(lc.lows, uint16(lb)); ok {
			eq = min(int64(lc.counts[i]), quota)
		}
		quota -= eq
		g.cuts[p] = Cut{Key: g.key, Eq: eq}
	}
	g.tensors = nil
	g.stage = 2
	return nil
}

// Cut is the selection for the tensor at pos (valid once the passes are done): apply it
// with Cut.Bound on the same tensor data. A tensor never given to Pass2 keeps only the
// elements strictly above the threshold. It fails before the passes are finished.
func (g *GlobalTopK) Cut(pos int) (Cut, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stage != 2 {
		return Cut{}, fmt.Errorf("global top-k: Cut asked before the passes finished")
	}
	if g.cuts == nil {
		return g.all, nil
	}
	if c, ok := g.cuts[pos]; ok {
		return c, nil
	}
	return Cut{Key: g.key, Eq: 0}, nil
}
