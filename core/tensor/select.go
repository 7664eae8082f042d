package tensor

import (
	"math"
	"slices"
	"sync"
)

// AbsKey is the selection key of x: its float32 bits without the sign. For every
// non-NaN value the key orders exactly like |x| (IEEE bit patterns of non-negative
// floats are monotonic); NaN keys sort above +Inf, so a NaN is "the largest" and is
// never silently dropped by a trim.
func AbsKey(x float32) uint32 { return math.Float32bits(x) &^ (1 << 31) }

// A Cut describes an exact top-k set in the magnitude order (key descending, index
// ascending): every element whose key is greater than Key, plus the first Eq elements,
// in index order, whose key equals Key. It is the output of TopCuts for one tensor and
// of GlobalTopK for one tensor of a model-wide selection, where the equal elements
// kept are counted in checkpoint order across tensors.
type Cut struct {
	Key uint32
	Eq  int64
}

var (
	// CutNone keeps nothing (k = 0): no key exceeds MaxUint32.
	CutNone = Cut{Key: math.MaxUint32, Eq: 0}
	// CutAll keeps everything (k ≥ n).
	CutAll = Cut{Key: 0, Eq: math.MaxInt64}
)

// A Bound is a Cut resolved against one tensor: the equal-key elements kept are exactly
// those with index ≤ Last. Keep is then a pure function of (index, key), which lets a
// mask be evaluated chunk by chunk and in parallel.
type Bound struct {
	Key  uint32
	Last int64
}

// Keep reports whether the element at index i with key AbsKey(x) is selected.
func (b Bound) Keep(i int64, key uint32) bool {
	return key > b.Key || (key == b.Key && i <= b.Last)
}

// Bound resolves c against the tensor x (or x − base when base is not nil, differences
// rounded to float32) by locating its Eq-th element equal to c.Key. Cost: a scan that
// stops at that element; none for CutNone and CutAll.
func (c Cut) Bound(x, base []float32) Bound {
	b := Bound{Key: c.Key, Last: -1}
	if c.Eq <= 0 {
		return b
	}
	if c.Eq >= int64(len(x)) {
		b.Last = math.MaxInt64
		return b
	}
	seen := int64(0)
	if base == nil {
		for i, v := range x {
			if AbsKey(v) == c.Key {
				seen++
				if seen == c.Eq {
					b.Last = int64(i)
					return b
				}
			}
		}
	} else {
		base = base[:len(x)]
		for i, v := range x {
			if AbsKey(v-base[i]) == c.Key {
				seen++
				if seen == c.Eq {
					b.Last = int64(i)
					return b
				}
			}
		}
	}
	// Fewer equal elements than Eq (a model-wide Cut whose quota exceeds this tensor's
	// share cannot happen, but be total): keep all of them.
	b.Last = math.MaxInt64
	return b
}

// smallSelect is the size below which sorting a copy of the keys beats two histogram
// passes over 65536 bins.
const smallSelect = 8192

type hist16 [1 << 16]uint64

var histPool = sync.Pool{New: func() any { return new(hist16) }}

// fillKeys writes the keys of x (or x − base) into dst.
func fillKeys(dst []uint32, x, base []float32) {
	if base == nil {
		for i, v := range x {
			dst[i] = AbsKey(v)
		}
		return
	}
	base = base[:len(x)]
	for i, v := range x {
		dst[i] = AbsKey(v - base[i])
	}
}

// histHigh adds the top 16 bits of every key to h.
func histHigh(h *hist16, x, base []float32) {
	if base == nil {
		for _, v := range x {
			h[AbsKey(v)>>16]++
		}
		return
	}
	base = base[:len(x)]
	for i, v := range x {
		h[AbsKey(v-base[i])>>16]++
	}
}

// histLow adds the low 16 bits of the keys whose top 16 bits are hb.
func histLow(h *hist16, x, base []float32, hb uint32) {
	if base == nil {
		for _, v := range x {
			if k := AbsKey(v); k>>16 == hb {
				h[k&0xffff]++
			}
		}
		return
	}
	base = base[:len(x)]
	for i, v := range x {
		if k := AbsKey(v - base[i]); k>>16 == hb {
			h[k&0xffff]++
		}
	}
}

// walkDown finds the bin where the running count from the top reaches need (≥ 1):
// it returns the bin and how many counts lie strictly above it.
func walkDown(h *hist16, need uint64) (bin uint32, above uint64) {
	cum := uint64(0)
	for b := len(h) - 1; b >= 0; b-- {
		if cum+h[b] >= need {
			return uint32(b), cum
		}
		cum += h[b]
	}
	return 0, cum // unreachable when need ≤ total
}

// TopCuts returns, for each k, the exact Cut of the k largest magnitudes of x (or of
// x − base, differences rounded to float32, when base is not nil). k ≤ 0 gives
// CutNone; k ≥ len(x) gives CutAll. Small tensors sort a copy of the keys; larger ones
// use a two-pass 16-bit radix select on the key bits (one histogram of the top 16 bits,
// then one of the low 16 bits inside the chosen bin), O(n) and exact.
func TopCuts(x, base []float32, ks ...int64) []Cut { return TopCutsUsing(nil, x, base, ks...) }

// HistFunc computes a radix-select histogram on other hardware (package compute's
// Merger.KeyHistogram): when high, it adds the top 16 bits of every key of x (or
// x − base) to h, else the low 16 bits of the keys whose top 16 bits are match. It
// returns false, leaving h untouched, when it declines; the CPU then counts.
type HistFunc func(h *[1 << 16]uint64, x, base []float32, high bool, match uint32) bool

// TopCutsUsing is TopCuts with its histograms from hist where hist accepts (nil: the
// CPU). Counts are integers, so the cuts are the same whoever counts.
func TopCutsUsing(hist HistFunc, x, base []float32, ks ...int64) []Cut {
	n := int64(len(x))
	cuts := make([]Cut, len(ks))
	pending := false
	for i, k := range ks {
		switch {
		case k <= 0:
			cuts[i] = CutNone
		case k >= n:
			cuts[i] = CutAll
		default:
			pending = true
		}
	}
	if !pending {
		return cuts
	}
	if n <= smallSelect {
		keys := make([]uint32, n)
		fillKeys(keys, x, base)
		slices.Sort(keys)
		for i, k := range ks {
			if k <= 0 || k >= n {
				continue
			}
			t := keys[n-k]
			// Elements strictly above t: everything after the last copy of t.
			j, _ := slices.BinarySearch(keys, t+1)
			above := n - int64(j)
			cuts[i] = Cut{Key: t, Eq: k - above}
		}
		return cuts
	}
	h1 := histPool.Get().(*hist16)
	defer histPool.Put(h1)
	clear(h1[:])
	if hist == nil || !hist((*[1 << 16]uint64)(h1), x, base, true, 0) {
		histHigh(h1, x, base)
	}
	h2 := histPool.Get().(*hist16)
	defer histPool.Put(h2)
	for i, k := range ks {
		if k <= 0 || k >= n {
			continue
		}
		hb, above := walkDown(h1, uint64(k))
		need := uint64(k) - above
		clear(h2[:])
		if hist == nil || !hist((*[1 << 16]uint64)(h2), x, base, false, hb) {
			histLow(h2, x, base, hb)
		}
		lb, above2 := walkDown(h2, need)
		cuts[i] = Cut{Key: hb<<16 | lb, Eq: int64(need - above2)}
	}
	return cuts
}

// TopCut is TopCuts for a single k.
func TopCut(x, base []float32, k int64) Cut { return TopCuts(x, base, k)[0] }

// TopIndices returns the indices of the k largest |x| (ties: lower index first), in
// that order: largest first. k is clamped to [0, len(x)].
func TopIndices(x []float32, k int) []int {
	k = max(0, min(k, len(x)))
	b := TopCut(x, nil, int64(k)).Bound(x, nil)
	idx := make([]int, 0, k)
	for i, v := range x {
		if b.Keep(int64(i), AbsKey(v)) {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, c int) int {
		ka, kc := AbsKey(x[a]), AbsKey(x[c])
		if ka != kc {
			if ka > kc {
				return -1
			}
			return 1
		}
		return a - c
	})
	return idx
}
