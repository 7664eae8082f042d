package numpy

import (
	"archive/zip"
	"errors"
	"io"
	"strconv"
	"sync"

	"ladle/core/ckpt"
)

// maxIdleStreams is how many decompression streams an inflater keeps for later
// reads: enough for the goroutines of a parallel reader that each walk forward
// through their own part of an array.
const maxIdleStreams = 4

// inflater is an io.ReaderAt over the array data of a deflated zip entry that
// decompresses as it is read, so that reading an array holds a window of it (about
// 40 KiB of deflate state per stream), not all of it: a 1 GiB array in a 1 MB .npz
// converts in a few megabytes. A read continues the open stream that is furthest
// along without passing its offset; a read behind every stream starts a new one from
// the entry's beginning. Reading in order therefore inflates the entry once; reading
// backwards costs a pass per read, which is why it reports itself Sequential.
//
// Big-endian arrays are byte-swapped on the way, a whole element at a time. Reads
// may run in parallel; each uses a stream of its own.
type inflater struct {
	zf   *zip.File
	skip int64 // the .npy header's bytes, before the array data
	n    int64 // the array's data bytes
	elem int64 // element size, when the elements are swapped; 0 otherwise
	w    where

	mu   sync.Mutex
	idle []*stream // streams between reads, the most recently used last
}

// stream is one decompression of the entry, at pos bytes into the array data.
type stream struct {
	rc  io.ReadCloser
	pos int64
}

var _ ckpt.Sequential = (*inflater)(nil)

// Sequential reports that the data is cheap to read only in order.
func (f *inflater) Sequential() bool { return true }

func (f *inflater) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= f.n {
		return 0, io.EOF
	}
	want := min(int64(len(p)), f.n-off)
	var eof error
	if want < int64(len(p)) {
		eof = io.EOF
	}
	// Swapping needs whole elements: a read that starts or ends inside one reads
	// that element into a scratch buffer; the whole elements between go straight
	// into p.
	lo, hi := off, off+want
	if f.elem > 1 {
		lo -= lo % f.elem
		if r := hi % f.elem; r != 0 {
			hi += f.elem - r
		}
	}
	s, err := f.take(lo)
	if err != nil {
		return 0, err
	}
	var scratch [8]byte
	for cur := lo; cur < hi; {
		var err error
		if f.elem > 1 && (cur < off || cur+f.elem > off+want) { // a partial element
			e := scratch[:f.elem]
			if err = f.fill(s, e, cur); err == nil {
				swapBytes(e, int(f.elem))
				copy(p[max(cur, off)-off:want], e[max(cur, off)-cur:])
			}
			cur += f.elem
		} else {
			end := off + want
			if f.elem > 1 {
				end -= end % f.elem
			}
			dst := p[cur-off : end-off]
			if err = f.fill(s, dst, cur); err == nil && f.elem > 1 {
				swapBytes(dst, int(f.elem))
			}
			cur = end
		}
		if err != nil {
			s.rc.Close()
			return 0, err
		}
	}
	f.give(s)
	return int(want), eof
}

// take returns the idle stream furthest along at or before off, or a new one.
func (f *inflater) take(off int64) (*stream, error) {
	f.mu.Lock()
	best := -1
	for i, s := range f.idle {
		if s.pos <= off && (best < 0 || s.pos > f.idle[best].pos) {
			best = i
		}
	}
	if best >= 0 {
		s := f.idle[best]
		f.idle = append(f.idle[:best], f.idle[best+1:]...)
		f.mu.Unlock()
		return s, nil
	}
	f.mu.Unlock()
	rc, err := f.zf.Open()
	if err != nil {
		return nil, f.w.format(ErrBadZip, "opening zip entry %q: %v", f.zf.Name, err)
	}
	s := &stream{rc: rc, pos: -f.skip}
	return s, nil
}

// fill reads len(dst) bytes of array data at off from s, which is at or before off.
func (f *inflater) fill(s *stream, dst []byte, off int64) error {
	if gap := off - s.pos; gap > 0 {
		if _, err := io.CopyN(io.Discard, s.rc, gap); err != nil {
			return streamError(f.w, err, "decompressing zip entry "+quote(f.zf.Name))
		}
		s.pos = off
	}
	if _, err := io.ReadFull(s.rc, dst); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return f.w.format(ErrTruncated, "zip entry %q inflates to fewer bytes than its %d-byte array needs", f.zf.Name, f.n)
		}
		return streamError(f.w, err, "decompressing zip entry "+quote(f.zf.Name))
	}
	s.pos += int64(len(dst))
	// When the array ends the entry, one more read reaches the end of the stream,
	// where archive/zip checks the entry's CRC-32.
	if s.pos == f.n && uint64(f.skip+f.n) == f.zf.UncompressedSize64 {
		var one [1]byte
		if _, err := io.ReadFull(s.rc, one[:]); err != io.EOF {
			if err == nil {
				err = errors.New("more data than the entry declares")
			}
			return f.w.format(ErrCorrupt, "zip entry %q: %v", f.zf.Name, err)
		}
	}
	return nil
}

// give puts a stream back for later reads, closing the oldest beyond the limit and
// any that has reached the end.
func (f *inflater) give(s *stream) {
	if s.pos >= f.n {
		s.rc.Close()
		return
	}
	f.mu.Lock()
	f.idle = append(f.idle, s)
	var drop *stream
	if len(f.idle) > maxIdleStreams {
		drop = f.idle[0]
		f.idle = f.idle[1:]
	}
	f.mu.Unlock()
	if drop != nil {
		drop.rc.Close()
	}
}

func quote(s string) string { return strconv.Quote(s) }
