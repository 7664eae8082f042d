package pytorch

import (
	"fmt"
	"io"
	"sync"

	"ladle/core/ckpt"
)

// storageCacheMin is the size up to which a compressed storage is inflated
// whole and kept; a storage up to the source's largest tensor is too. It is
// the bound on expanded views, and a variable so that tests can lower it.
var storageCacheMin int64 = maxExpand

// maxDeflateRatio is the most deflate can expand: a 258-byte match takes at
// least two bits, so a record can hold at most about 1032 times its size.
const maxDeflateRatio = 1032

// reinflateFactor bounds the bytes a source inflates to this many times the
// compressed storages its tensors use (plus one cache's worth): reading views
// out of storage order restarts a storage's stream each time.
const reinflateFactor = 8

// inflater reads the views of compressed (deflated) zip storages, which
// torch never writes but a re-zipped archive holds. Inflating the record
// from its start for each view made reading n views of one storage
// quadratic (2,000 views took seconds, 8,000 views of a 256 MiB storage
// minutes); instead:
//
//   - a storage no larger than cacheLimit is inflated whole, once, and kept
//     until a view of another storage is read;
//   - a larger one is inflated as a stream held open where the last view
//     read ends, so views read in storage order (as a flat buffer's views
//     are listed) cost one pass; a view before that point starts the stream
//     again, and the last view is kept for a caller that reads it twice.
//
// Either way it holds one storage, or one stream and one view, at a time.
// It is safe for concurrent use; reads are serialised.
type inflater struct {
	mu         sync.Mutex
	cacheLimit int64

	whole *storage // the storage kept whole, and its bytes
	data  []byte

	stream *storage // the storage being streamed, its reader and position
	rc     io.ReadCloser
	pos    int64
	last   struct {
		st  *storage
		off int64
		buf []byte
	}

	inflated, allowance int64 // bytes inflated so far, and how many may be
}

// newInflater prepares reads of the compressed storages among tensors.
func newInflater(tensors map[string]*tensorLoc) *inflater {
	in := &inflater{cacheLimit: storageCacheMin}
	seen := map[*storage]bool{}
	for _, loc := range tensors {
		in.cacheLimit = max(in.cacheLimit, loc.nbytes)
		if st := loc.st; st.zf != nil && !seen[st] {
			seen[st] = true
			in.allowance += reinflateFactor * st.nbytes
		}
	}
	in.allowance += in.cacheLimit
	return in
}

// span returns n bytes of st from byte off. The result may be shared with
// other readers: the caller must not modify it.
func (in *inflater) span(st *storage, off, n int64) ([]byte, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if st.nbytes <= in.cacheLimit {
		if in.whole != st {
			in.whole, in.data = nil, nil // let the previous storage go first
			rc, err := in.open(st, st.nbytes)
			if err != nil {
				return nil, err
			}
			data := make([]byte, st.nbytes)
			_, err = io.ReadFull(rc, data)
			rc.Close()
			if err != nil {
				return nil, readError(st, err)
			}
			in.whole, in.data = st, data
		}
		return in.data[off : off+n : off+n], nil
	}
	if in.last.st == st && in.last.off == off && int64(len(in.last.buf)) == n {
		return in.last.buf, nil
	}
	if in.stream != st || off < in.pos {
		in.closeStream()
		rc, err := in.open(st, off+n)
		if err != nil {
			return nil, err
		}
		in.stream, in.rc, in.pos = st, rc, 0
	} else if err := in.spend(st, off+n-in.pos); err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, in.rc, off-in.pos); err != nil {
		in.closeStream()
		return nil, readError(st, err)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(in.rc, buf); err != nil {
		in.closeStream()
		return nil, readError(st, err)
	}
	in.pos = off + n
	in.last.st, in.last.off, in.last.buf = st, off, buf
	return buf, nil
}

// open starts inflating st's record, which is about to inflate n bytes.
func (in *inflater) open(st *storage, n int64) (io.ReadCloser, error) {
	if err := in.spend(st, n); err != nil {
		return nil, err
	}
	rc, err := st.zf.Open()
	if err != nil {
		return nil, fmt.Errorf("opening zip record %s: %v", st.zf.Name, err)
	}
	return rc, nil
}

// spend counts n more bytes to inflate, refusing past the allowance.
func (in *inflater) spend(st *storage, n int64) error {
	in.inflated += n
	if in.inflated > in.allowance {
		return &ckpt.UnsupportedError{Msg: fmt.Sprintf("reading the views of compressed storage %q out of storage order "+
			"would inflate it again and again (%s inflated so far); torch.save stores storages uncompressed: "+
			"save the file again with torch.save, or zip it without compression", st.key, ckpt.FormatBytes(in.inflated))}
	}
	return nil
}

func readError(st *storage, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("zip record %s holds fewer bytes than its storage needs", st.zf.Name)
	}
	return fmt.Errorf("decompressing zip record %s: %v", st.zf.Name, err)
}

func (in *inflater) closeStream() {
	if in.rc != nil {
		in.rc.Close()
	}
	in.stream, in.rc, in.pos = nil, nil, 0
}

// close lets go of what the inflater holds.
func (in *inflater) close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.closeStream()
	in.whole, in.data, in.last.st, in.last.buf = nil, nil, nil, nil
}
