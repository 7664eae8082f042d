package ckpt

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"

	"ladle/core/dtype"
)

// Info describes one tensor of a checkpoint: its name, element type and shape.
// A scalar has an empty (non-nil or nil) shape and one element.
type Info struct {
	Name  string
	DType dtype.DType
	Shape []int64
}

// NumElements is the product of the shape; -1 if it overflows int64 or a dimension is negative.
func (t Info) NumElements() int64 { return NumElements(t.Shape) }

// Bytes is the size of the tensor's data: NumElements x DType.Size(); -1 on overflow.
func (t Info) Bytes() int64 {
	n := t.NumElements()
	if n < 0 {
		return -1
	}
	hi, lo := bits.Mul64(uint64(n), uint64(t.DType.Size()))
	if hi != 0 || lo > math.MaxInt64 {
		return -1
	}
	return int64(lo)
}

// NumElements is the product of shape, or -1 when a dimension is negative or the
// product does not fit in an int64. The empty shape (a scalar) has one element.
func NumElements(shape []int64) int64 {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return -1
		}
		n = lo
	}
	return int64(n)
}

// Source is an opened checkpoint. It lists its tensors up front (from the header or
// the pickle) and reads each tensor's data only when asked, so a caller that streams
// tensor by tensor never holds more than one of them.
//
// Tensor data is always given in safetensors layout: row-major (C-contiguous),
// little-endian, Info.Bytes() bytes, whatever the file stores.
type Source interface {
	// Path is the file or folder the checkpoint was opened from ("" for an in-memory one).
	Path() string
	// Format names the container: "safetensors", "pytorch", "gguf", "npz" or "npy".
	Format() string
	// Metadata is the string map stored beside the tensors (safetensors' __metadata__); may be empty.
	Metadata() map[string]string
	// Tensors lists the tensors in file order. The caller must not modify the result.
	Tensors() []Info
	// Tensor returns a reader over the named tensor's bytes. Reads through it are
	// independent of other readers and safe to run in parallel.
	Tensor(name string) (*io.SectionReader, error)
	// Close releases the underlying file(s).
	Close() error
}

// Lookup returns the Info of the named tensor in src.
func Lookup(src Source, name string) (Info, bool) {
	for _, t := range src.Tensors() {
		if t.Name == name {
			return t, true
		}
	}
	return Info{}, false
}

// ReadAll reads the whole of the named tensor's data.
func ReadAll(src Source, name string) ([]byte, error) {
	r, err := src.Tensor(name)
	if err != nil {
		return nil, err
	}
	b := make([]byte, r.Size())
	if _, err := r.ReadAt(b, 0); err != nil && !(err == io.EOF && len(b) == 0) {
		var fe *FormatError
		if errors.As(err, &fe) { // the reader's own error already says where and what
			return nil, err
		}
		return nil, &FormatError{File: src.Path(), Tensor: name, Msg: "reading data: " + err.Error()}
	}
	return b, nil
}

// Sink receives a checkpoint's tensors in the order declared when it was created
// (the safetensors header comes first, so the list of tensors is known up front).
// A tensor's data may be written whole with WriteTensor or in parts: BeginTensor,
// then Write until Info.Bytes() bytes have gone in.
type Sink interface {
	WriteTensor(name string, data []byte) error
	BeginTensor(name string) error
	Write(p []byte) (int, error)
	// Close finishes the checkpoint; it fails if a declared tensor is incomplete.
	Close() error
}

// FormatBytes writes a size for people: 1.5 MB, 2.40 GB (powers of ten, as file sizes
// and throughputs are quoted).
func FormatBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// Sequential is implemented by the io.ReaderAt behind a tensor's reader when reading
// it in order is much cheaper than reading it anywhere else, as for data that is
// decompressed as it is read. Readers that would split a tensor among goroutines
// read such a tensor with one instead.
type Sequential interface {
	Sequential() bool
}

// IsSequential reports whether r, a reader a Source's Tensor returned, is best read
// from start to end by one reader (see Sequential).
func IsSequential(r *io.SectionReader) bool {
	var inner io.ReaderAt = r
	for {
		sr, ok := inner.(*io.SectionReader)
		if !ok {
			break
		}
		inner, _, _ = sr.Outer()
	}
	s, ok := inner.(Sequential)
	return ok && s.Sequential()
}
