package gguf

import (
	"io"

	"ladle/core/ckpt"
)

func init() {
	ckpt.Register(ckpt.Format{Name: "gguf", Sniff: Sniff, Open: func(r io.ReaderAt, size int64, path string) (ckpt.Source, error) {
		return Open(r, size, path)
	}})
}

// Sniff reports whether head starts a GGUF file.
func Sniff(head []byte, size int64) bool {
	return len(head) >= 4 && string(head[:4]) == magic
}

// Reader is an opened GGUF file. It implements ckpt.Source.
type Reader struct {
	r         io.ReaderAt
	path      string
	version   uint32
	alignment int64
	dataStart int64
	metadata  map[string]string
	infos     []ckpt.Info
	spans     map[string]span
}

var _ ckpt.Source = (*Reader)(nil)

// Open reads and validates the header of the GGUF file held by r (size bytes):
// metadata and tensor table. No tensor data is read. path only names the file
// in errors. A file holding quantized tensors is refused (see the package doc).
func Open(r io.ReaderAt, size int64, path string) (*Reader, error) {
	if size < 0 {
		return nil, &ckpt.FormatError{File: path, Err: ErrTruncated, Msg: "negative file size"}
	}
	h, err := readHeader(r, size, path)
	if err != nil {
		return nil, err
	}
	infos, spans, err := h.layout(size, path)
	if err != nil {
		return nil, err
	}
	return &Reader{r: r, path: path, version: h.version, alignment: h.alignment,
		dataStart: alignUp(h.end, h.alignment), metadata: h.metadata, infos: infos, spans: spans}, nil
}

// Path names the file the reader was opened from.
func (rd *Reader) Path() string { return rd.path }

// Format returns "gguf".
func (rd *Reader) Format() string { return "gguf" }

// Metadata returns the GGUF key/values formatted as strings (see MaxArrayItems).
func (rd *Reader) Metadata() map[string]string { return rd.metadata }

// Tensors lists the tensors in the order of the file's tensor table, with
// row-major shapes.
func (rd *Reader) Tensors() []ckpt.Info { return rd.infos }

// Tensor returns a window on the named tensor's bytes in the file.
func (rd *Reader) Tensor(name string) (*io.SectionReader, error) {
	s, ok := rd.spans[name]
	if !ok {
		return nil, &ckpt.NotFoundError{File: rd.path, Tensor: name}
	}
	return io.NewSectionReader(rd.r, s.begin, s.end-s.begin), nil
}

// Version is the file's GGUF version, 2 or 3.
func (rd *Reader) Version() uint32 { return rd.version }

// Alignment is the data alignment: general.alignment, or DefaultAlignment.
func (rd *Reader) Alignment() int64 { return rd.alignment }

// DataOffset is the file offset of the data section, which tensor offsets count from.
func (rd *Reader) DataOffset() int64 { return rd.dataStart }

// Close does nothing: the Reader does not own its io.ReaderAt.
func (rd *Reader) Close() error { return nil }
