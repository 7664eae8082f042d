package tensor

import "math"

// Ranker sorts the elements of a row by ascending magnitude, equal magnitudes in
// ascending index order (so among equal |x| the lower index gets the lower rank). It is
// a stable LSD radix sort on AbsKey, O(n), with scratch buffers kept between calls so
// that ranking many rows allocates only once. A Ranker is not safe for concurrent use;
// give each goroutine its own.
type Ranker struct {
	keys, keys2 []uint32
	idx2        []uint32
}

// MaxRankLen is the longest row a Ranker accepts: indices are stored as uint32.
const MaxRankLen = math.MaxUint32

func grow(s []uint32, n int) []uint32 {
	if cap(s) < n {
		return make([]uint32, n)
	}
	return s[:n]
}

// Order writes into order[:len(x)] the indices of x sorted by ascending |x| (or
// |x − base|, differences rounded to float32, when base is not nil); the element at
// order[r] has rank r+1. len(order) must be at least len(x) and len(x) at most
// MaxRankLen.
func (r *Ranker) Order(x, base []float32, order []uint32) {
	n := len(x)
	order = order[:n]
	r.keys = grow(r.keys, n)
	keys := r.keys
	fillKeys(keys, x, base)
	for i := range order {
		order[i] = uint32(i)
	}
	if n <= 32 {
		// Stable insertion sort: cheaper than four counting passes on tiny rows.
		for i := 1; i < n; i++ {
			k, o := keys[i], order[i]
			j := i
			for j > 0 && keys[j-1] > k {
				keys[j], order[j] = keys[j-1], order[j-1]
				j--
			}
			keys[j], order[j] = k, o
		}
		return
	}
	r.keys2 = grow(r.keys2, n)
	r.idx2 = grow(r.idx2, n)
	// All four digit histograms in one read of the keys.
	var count [4][256]int
	for _, k := range keys {
		count[0][k&0xff]++
		count[1][(k>>8)&0xff]++
		count[2][(k>>16)&0xff]++
		count[3][k>>24]++
	}
	src, srcIdx := keys, order
	dst, dstIdx := r.keys2, r.idx2
	for pass := range 4 {
		shift := uint(8 * pass)
		cnt := &count[pass]
		if cnt[(src[0]>>shift)&0xff] == n {
			continue // every key shares this digit: the pass would not move anything
		}
		pos := 0
		for d := range cnt {
			c := cnt[d]
			cnt[d] = pos
			pos += c
		}
		dst, dstIdx = dst[:n], dstIdx[:n]
		for i, k := range src {
			d := (k >> shift) & 0xff
			p := cnt[d]
			cnt[d] = p + 1
			dst[p] = k
			dstIdx[p] = srcIdx[i]
		}
		src, dst = dst, src
		srcIdx, dstIdx = dstIdx, srcIdx
	}
	if &srcIdx[0] != &order[0] {
		copy(order, srcIdx)
	}
}
