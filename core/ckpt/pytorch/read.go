package pytorch

import (
	"bytes"
	"fmt"
	"io"
)

// maxExpand bounds the bytes built for a tensor whose view repeats storage
// elements (a zero stride, as expand() makes): unlike any other view, such a
// tensor can be far larger than the file that holds it.
const maxExpand = 64 << 20

// read returns a tensor's bytes in C order, little-endian.
func (s *source) read(loc *tensorLoc) (*io.SectionReader, error) {
	if loc.nbytes == 0 {
		return io.NewSectionReader(bytes.NewReader(nil), 0, 0), nil
	}
	swap := loc.st.bigEndian && loc.size > 1
	if loc.contiguous && !swap && loc.st.zf == nil {
		return io.NewSectionReader(s.r, loc.st.off+loc.base, loc.nbytes), nil
	}
	if loc.nbytes > loc.span && loc.nbytes > maxExpand {
		return nil, unsupportedf("an expanded view of %d bytes built from %d stored bytes (at most %d)",
			loc.nbytes, loc.span, maxExpand)
	}
	span, shared, err := s.readSpan(loc.st, loc.base, loc.span)
	if err != nil {
		return nil, err
	}
	out := span
	switch {
	case !loc.contiguous:
		out = gather(span, loc)
	case swap && shared:
		out = append([]byte(nil), span...)
	}
	if swap {
		swapBytes(out, loc.size)
	}
	return io.NewSectionReader(bytes.NewReader(out), 0, int64(len(out))), nil
}

// readSpan reads n bytes of st starting at byte off. A compressed storage's
// bytes come from the source's inflater and may be shared (shared is true):
// the caller must not modify them.
func (s *source) readSpan(st *storage, off, n int64) (b []byte, shared bool, err error) {
	if st.zf != nil {
		b, err := s.inflate.span(st, off, n)
		return b, true, err
	}
	buf := make([]byte, n)
	if _, err := s.r.ReadAt(buf, st.off+off); err != nil {
		return nil, false, fmt.Errorf("reading storage %q: %v", st.key, err)
	}
	return buf, false, nil
}

// gather copies the elements of a strided view, whose first element starts
// src, into a new buffer in C order.
func gather(src []byte, loc *tensorLoc) []byte {
	out := make([]byte, loc.nbytes)
	size := int64(loc.size)
	nd := len(loc.shape)
	if nd == 0 {
		copy(out, src[:size])
		return out
	}
	idx := make([]int64, nd)
	inner, innerStep := loc.shape[nd-1], loc.stride[nd-1]*size
	pos := int64(0) // byte offset in src of the current row's first element
	for o := int64(0); o < loc.nbytes; {
		p := pos
		for j := int64(0); j < inner; j++ {
			copy(out[o:o+size], src[p:p+size])
			o += size
			p += innerStep
		}
		for d := nd - 2; d >= 0; d-- {
			idx[d]++
			pos += loc.stride[d] * size
			if idx[d] < loc.shape[d] {
				break
			}
			pos -= loc.stride[d] * size * loc.shape[d]
			idx[d] = 0
		}
	}
	return out
}

// swapBytes reverses the bytes of each size-byte element of b.
func swapBytes(b []byte, size int) {
	for i := 0; i+size <= len(b); i += size {
		e := b[i : i+size]
		for j, k := 0, size-1; j < k; j, k = j+1, k-1 {
			e[j], e[k] = e[k], e[j]
		}
	}
}

func unsupportedf(format string, args ...any) error {
	return unsupported(fmt.Sprintf(format, args...))
}
