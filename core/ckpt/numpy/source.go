package numpy

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"

	"ladle/core/ckpt"
)

// Reader is an opened .npy or .npz file. It implements ckpt.Source.
type Reader struct {
	r        io.ReaderAt
	path     string
	format   string // "npy" or "npz"
	infos    []ckpt.Info
	arrays   map[string]*array
	metadata map[string]string
}

// array is a validated array: its header, and where its data is.
type array struct {
	hdr *arrayHeader
	off int64     // file offset of the first data byte, when the bytes are stored as is
	zf  *zip.File // the deflated zip entry that holds the array; nil when stored
}

var _ ckpt.Source = (*Reader)(nil)

func newReader(r io.ReaderAt, path, format string) *Reader {
	return &Reader{r: r, path: path, format: format, arrays: map[string]*array{}, metadata: map[string]string{}}
}

func (rd *Reader) add(name string, a *array) {
	rd.infos = append(rd.infos, ckpt.Info{Name: name, DType: a.hdr.dt, Shape: a.hdr.shape})
	rd.arrays[name] = a
}

// Path names the file the reader was opened from.
func (rd *Reader) Path() string { return rd.path }

// Format is "npy" for a single array and "npz" for an archive of arrays.
func (rd *Reader) Format() string { return rd.format }

// Metadata is empty, except that an .npz whose archive also holds files that are
// not arrays lists them under "npz.skipped_entries" (a JSON array of names).
func (rd *Reader) Metadata() map[string]string { return rd.metadata }

// Tensors lists the arrays: for an .npz in the archive's order.
func (rd *Reader) Tensors() []ckpt.Info { return rd.infos }

// Close does nothing: the Reader does not own its io.ReaderAt.
func (rd *Reader) Close() error { return nil }

// Tensor returns the named array's bytes in C order, little-endian. A stored,
// C-ordered little-endian array is a window on the caller's reader; a deflated
// C-ordered one is inflated (and byte-swapped) as it is read, a window at a time; a
// Fortran-ordered one, and a stored big-endian one, are read and rearranged in
// memory here.
func (rd *Reader) Tensor(name string) (*io.SectionReader, error) {
	a, ok := rd.arrays[name]
	if !ok {
		return nil, &ckpt.NotFoundError{File: rd.path, Tensor: name}
	}
	h := a.hdr
	if h.nbytes == 0 {
		return io.NewSectionReader(bytes.NewReader(nil), 0, 0), nil
	}
	size := h.dt.Size()
	swap := h.bigEndian && size > 1
	transpose := h.fortran && needsTranspose(h.shape)
	if a.zf == nil && !swap && !transpose {
		return io.NewSectionReader(rd.r, a.off, h.nbytes), nil
	}
	w := where{file: rd.path, tensor: name}
	if a.zf != nil && !transpose { // inflated as it is read
		f := &inflater{zf: a.zf, skip: h.dataOff, n: h.nbytes, w: w}
		if swap {
			f.elem = int64(size)
		}
		return io.NewSectionReader(f, 0, h.nbytes), nil
	}
	var buf []byte
	var err error
	if a.zf == nil {
		buf = make([]byte, h.nbytes) // inside the file: checked by Open
		if _, err := rd.r.ReadAt(buf, a.off); err != nil {
			return nil, w.format(ErrTruncated, "reading %d data bytes: %v", h.nbytes, err)
		}
	} else if buf, err = inflate(a, w); err != nil {
		return nil, err
	}
	if transpose {
		buf = fortranToC(buf, h.shape, size)
	}
	if swap {
		swapBytes(buf, size)
	}
	return io.NewSectionReader(bytes.NewReader(buf), 0, int64(len(buf))), nil
}

// inflate decompresses a deflated entry's array data.
func inflate(a *array, w where) ([]byte, error) {
	h := a.hdr
	rc, err := a.zf.Open()
	if err != nil {
		return nil, w.format(ErrBadZip, "opening zip entry %q: %v", a.zf.Name, err)
	}
	defer rc.Close()
	if _, err := io.CopyN(io.Discard, rc, h.dataOff); err != nil {
		return nil, streamError(w, err, "decompressing zip entry "+a.zf.Name)
	}
	// ReadAll grows its buffer as data arrives, so an entry that claims more than
	// it holds cannot make this allocate more than it really inflates to.
	buf, err := io.ReadAll(io.LimitReader(rc, h.nbytes))
	if err != nil {
		return nil, streamError(w, err, "decompressing zip entry "+a.zf.Name)
	}
	if int64(len(buf)) != h.nbytes {
		return nil, w.format(ErrTruncated, "zip entry %q inflates to %d data bytes, but the array needs %d",
			a.zf.Name, len(buf), h.nbytes)
	}
	// When the array ends the entry, one more read reaches the end of the
	// stream, where archive/zip checks the entry's CRC-32.
	if uint64(h.dataOff+h.nbytes) == a.zf.UncompressedSize64 {
		var one [1]byte
		if _, err := io.ReadFull(rc, one[:]); err != io.EOF {
			if err == nil {
				err = errors.New("more data than the entry declares")
			}
			return nil, w.format(ErrCorrupt, "zip entry %q: %v", a.zf.Name, err)
		}
	}
	return buf, nil
}

// streamError classifies an error from reading an array stream: running out
// of bytes is truncation, anything else (a bad deflate stream, a checksum) is
// corruption.
func streamError(w where, err error, doing string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return w.format(ErrTruncated, "%s: %v", doing, err)
	}
	return w.format(ErrCorrupt, "%s: %v", doing, err)
}
