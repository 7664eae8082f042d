package gguf

import (
	"encoding/binary"
	"fmt"
	"io"

	"ladle/core/ckpt"
)

// decoder reads the header sequentially, keeping its position so that every
// length can be checked against the bytes that remain before anything is
// allocated for it. It buffers its own reads: they start at 4 KiB and double up
// to 256 KiB, so that a small header costs one small read of the io.ReaderAt (and
// reads no tensor data to speak of) while a tokenizer's megabytes of strings
// cost few. Skipped bytes (array items past the preview) are not read at all.
type decoder struct {
	r        io.ReaderAt
	size     int64 // bytes in the file
	pos      int64 // file offset of the next byte to decode
	buf      []byte
	bufStart int64 // file offset of buf[0]
	chunk    int   // size of the next refill
	path     string
	tensor   string // the tensor whose info is being read, for errors
	scratch  [8]byte
}

const (
	firstChunk = 4 << 10
	maxChunk   = 256 << 10
)

func newDecoder(r io.ReaderAt, size int64, path string) *decoder {
	return &decoder{r: r, size: size, path: path, chunk: firstChunk}
}

func (d *decoder) left() int64 { return d.size - d.pos }

func (d *decoder) fail(kind error, format string, args ...any) error {
	return &ckpt.FormatError{File: d.path, Tensor: d.tensor, Msg: fmt.Sprintf(format, args...), Err: kind}
}

// truncated reports that what, n bytes at the current position, is not all in the file.
func (d *decoder) truncated(what string, n int64) error {
	return d.fail(ErrTruncated, "%s (%d bytes at byte %d) runs past the end of the %d-byte file", what, n, d.pos, d.size)
}

// read fills p with the next len(p) bytes.
func (d *decoder) read(p []byte, what string) error {
	n := int64(len(p))
	if n > d.left() {
		return d.truncated(what, n)
	}
	if d.pos >= d.bufStart && d.pos+n <= d.bufStart+int64(len(d.buf)) {
		copy(p, d.buf[d.pos-d.bufStart:])
		d.pos += n
		return nil
	}
	if n >= int64(d.chunk) { // too big to be worth buffering
		if err := d.readAt(p, d.pos, what); err != nil {
			return err
		}
		d.pos += n
		return nil
	}
	m := min(int64(d.chunk), d.left())
	d.chunk = min(2*d.chunk, maxChunk)
	if int64(cap(d.buf)) < m {
		d.buf = make([]byte, m)
	}
	d.buf = d.buf[:m]
	d.bufStart = d.pos
	if err := d.readAt(d.buf, d.pos, what); err != nil {
		d.buf = d.buf[:0]
		return err
	}
	copy(p, d.buf)
	d.pos += n
	return nil
}

// readAt reads p at off, which the caller has checked lies inside the file.
func (d *decoder) readAt(p []byte, off int64, what string) error {
	k, err := d.r.ReadAt(p, off)
	if k == len(p) {
		return nil // io.ReaderAt may report io.EOF with a full read at the end
	}
	return d.fail(ErrTruncated, "reading %s at byte %d: %v", what, off, err)
}

func (d *decoder) u8(what string) (uint8, error) {
	err := d.read(d.scratch[:1], what)
	return d.scratch[0], err
}

func (d *decoder) u16(what string) (uint16, error) {
	err := d.read(d.scratch[:2], what)
	return binary.LittleEndian.Uint16(d.scratch[:2]), err
}

func (d *decoder) u32(what string) (uint32, error) {
	err := d.read(d.scratch[:4], what)
	return binary.LittleEndian.Uint32(d.scratch[:4]), err
}

func (d *decoder) u64(what string) (uint64, error) {
	err := d.read(d.scratch[:8], what)
	return binary.LittleEndian.Uint64(d.scratch[:8]), err
}

// length reads a 64-bit length or count of items of at least unit bytes each,
// and checks that they fit in what remains of the file.
func (d *decoder) length(what string, unit int64) (int64, error) {
	n, err := d.u64(what + " length")
	if err != nil {
		return 0, err
	}
	if n > uint64(d.left()/unit) {
		if unit == 1 {
			return 0, d.fail(ErrTooMany, "%s claims %d bytes at byte %d, but only %d remain", what, n, d.pos, d.left())
		}
		return 0, d.fail(ErrTooMany, "%s claims %d items of at least %d bytes at byte %d, but only %d bytes remain",
			what, n, unit, d.pos, d.left())
	}
	return int64(n), nil
}

// str reads a string: a 64-bit length and that many bytes.
func (d *decoder) str(what string) (string, error) {
	n, err := d.length(what, 1)
	if err != nil {
		return "", err
	}
	b := make([]byte, n)
	if err := d.read(b, what); err != nil {
		return "", err
	}
	return string(b), nil
}

// skip passes over n bytes without reading them.
func (d *decoder) skip(n int64, what string) error {
	if n > d.left() {
		return d.truncated(what, n)
	}
	d.pos += n
	return nil
}

// skipStr passes over a string without keeping it.
func (d *decoder) skipStr(what string) error {
	n, err := d.length(what, 1)
	if err != nil {
		return err
	}
	return d.skip(n, what)
}
