package numpy

// Layout fixes applied on read, so that every tensor comes out C-ordered and
// little-endian, as ckpt.Source promises.

// needsTranspose reports whether a Fortran-ordered array of this shape is laid
// out differently from C order: only when two or more dimensions exceed 1.
func needsTranspose(shape []int64) bool {
	n := 0
	for _, d := range shape {
		if d > 1 {
			n++
		}
	}
	return n > 1
}

// fortranToC returns the column-major array src (elements of size bytes, shape
// with every dimension at least 1) rearranged in row-major order.
func fortranToC(src []byte, shape []int64, size int) []byte {
	out := make([]byte, len(src))
	nd := len(shape)
	// stride[i] is the byte distance between neighbours along dimension i in src.
	stride := make([]int64, nd)
	st := int64(size)
	for i := range nd {
		stride[i] = st
		st *= shape[i]
	}
	sz := int64(size)
	idx := make([]int64, nd)
	inner, step := shape[nd-1], stride[nd-1]
	pos := int64(0) // byte offset in src of the current output row's first element
	for o := int64(0); o < int64(len(out)); {
		p := pos
		for range inner {
			copy(out[o:o+sz], src[p:p+sz])
			o += sz
			p += step
		}
		for d := nd - 2; d >= 0; d-- {
			idx[d]++
			pos += stride[d]
			if idx[d] < shape[d] {
				break
			}
			pos -= stride[d] * shape[d]
			idx[d] = 0
		}
	}
	return out
}

// swapBytes reverses the bytes of each size-byte element of b in place.
func swapBytes(b []byte, size int) {
	for i := 0; i+size <= len(b); i += size {
		e := b[i : i+size]
		for j, k := 0, size-1; j < k; j, k = j+1, k-1 {
			e[j], e[k] = e[k], e[j]
		}
	}
}
