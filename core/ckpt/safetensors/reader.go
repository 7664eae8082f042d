package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

// MaxHeaderSize is the largest header accepted, as in the reference implementation.
const MaxHeaderSize = 100_000_000

// Reader is an opened safetensors file. It implements ckpt.Source.
type Reader struct {
	r        io.ReaderAt
	path     string
	dataBase int64 // file offset of the first data byte: 8 + header length
	tensors  []ckpt.Info
	spans    map[string]span
	metadata map[string]string
}

type span struct{ begin, end int64 }

func init() {
	ckpt.Register(ckpt.Format{Name: "safetensors", Sniff: Sniff, Open: func(r io.ReaderAt, size int64, path string) (ckpt.Source, error) {
		return Open(r, size, path)
	}})
	ckpt.RegisterIndex(func(path string) (ckpt.Source, error) { return OpenIndex(path) })
}

// Sniff reports whether head, the first bytes of a file of the given size, starts a
// safetensors file: a plausible header length followed by '{'.
func Sniff(head []byte, size int64) bool {
	if len(head) < 9 {
		return false
	}
	n := binary.LittleEndian.Uint64(head)
	return n >= 2 && n <= MaxHeaderSize && head[8] == '{'
}

// Open reads and validates the header of the safetensors file held by r (size bytes).
// path names the file in errors. Tensor data is not read.
func Open(r io.ReaderAt, size int64, path string) (*Reader, error) {
	fail := func(kind error, format string, args ...any) error {
		return &ckpt.FormatError{File: path, Msg: fmt.Sprintf(format, args...), Err: kind}
	}
	if size < 8 {
		return nil, fail(ErrTruncated, "the file is %d bytes, shorter than the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fail(ErrTruncated, "reading the header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, fail(ErrHeaderTooLarge, "the header claims %d bytes, more than the %d-byte limit (is this a safetensors file?)", n, MaxHeaderSize)
	}
	if int64(n) > size-8 {
		return nil, fail(ErrHeaderPastEnd, "the file is truncated at byte %d of at least %d: its header alone claims %d bytes; copy or download it again", size, 8+int64(n), n)
	}
	header := make([]byte, n)
	if _, err := r.ReadAt(header, 8); err != nil {
		return nil, fail(ErrTruncated, "reading the header: %v", err)
	}
	rd := &Reader{r: r, path: path, dataBase: 8 + int64(n), spans: map[string]span{}}
	if err := rd.parseHeader(header); err != nil {
		return nil, err
	}
	if err := rd.checkSpans(size - rd.dataBase); err != nil {
		return nil, err
	}
	return rd, nil
}

type entry struct {
	Dtype       string
	Shape       []int64
	DataOffsets []int64
	// Unknown fields are skipped, as in the reference implementation.
}

// parseHeader reads the JSON object in the file's key order, which lets duplicate
// names be caught (a map would silently keep the last one). See headerScanner for
// why this is not encoding/json.
func (rd *Reader) parseHeader(header []byte) error {
	fail := func(tensor string, kind error, format string, args ...any) error {
		return &ckpt.FormatError{File: rd.path, Tensor: tensor, Msg: fmt.Sprintf(format, args...), Err: kind}
	}
	trimmed := bytes.TrimRight(header, " \x00")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fail("", ErrInvalidJSON, "the header does not start with '{'")
	}
	s := &headerScanner{b: trimmed}
	s.i++
	seen := map[string]bool{}
	if s.peek() != '}' {
		for {
			name, err := s.str()
			if err != nil {
				return fail("", ErrInvalidJSON, "expected a tensor name: %v", err)
			}
			if seen[name] {
				return fail(name, ErrDuplicateName, "the name appears twice in the header")
			}
			seen[name] = true
			if err := s.expect(':'); err != nil {
				return fail(name, ErrInvalidJSON, "%v", err)
			}
			if name == "__metadata__" {
				md, err := rd.parseMetadata(s)
				if err != nil {
					return err
				}
				rd.metadata = md
			} else {
				e, err := rd.parseEntry(s, name)
				if err != nil {
					return err
				}
				if err := rd.addTensor(name, e); err != nil {
					return err
				}
			}
			c := s.peek()
			if c == '}' {
				break
			}
			if c != ',' {
				return fail("", ErrInvalidJSON, "%v", s.errorf("expected ',' or '}' after the entry"))
			}
			s.i++
		}
	}
	s.i++ // the closing brace
	if !s.atEnd() {
		return fail("", ErrInvalidJSON, "unexpected data after the header's JSON object")
	}
	if rd.metadata == nil {
		rd.metadata = map[string]string{}
	}
	return nil
}

// parseEntry reads one tensor's {"dtype", "shape", "data_offsets"}. The names are
// matched exactly, each at most once; other fields are skipped.
func (rd *Reader) parseEntry(s *headerScanner, name string) (entry, error) {
	var e entry
	fail := func(kind error, format string, args ...any) (entry, error) {
		return e, &ckpt.FormatError{File: rd.path, Tensor: name, Msg: fmt.Sprintf(format, args...), Err: kind}
	}
	bad := func(err error) (entry, error) {
		var fe *fieldError
		if errors.As(err, &fe) {
			return fail(ErrInvalidTensor, "%s", fe.msg)
		}
		return fail(ErrInvalidJSON, "%v", err)
	}
	if s.peek() != '{' {
		what := s.kind()
		if err := s.skip(0); err != nil {
			return bad(err)
		}
		return fail(ErrInvalidTensor, "the entry must be {\"dtype\", \"shape\", \"data_offsets\"}, found %s", what)
	}
	s.i++
	var hasDtype, hasShape, hasOffsets bool
	once := func(has *bool, field string) error {
		if *has {
			return &ckpt.FormatError{File: rd.path, Tensor: name, Err: ErrDuplicateField,
				Msg: fmt.Sprintf("the entry gives %q twice; a reader could take either one", field)}
		}
		*has = true
		return nil
	}
	if s.peek() == '}' {
		s.i++
		return e, nil
	}
	for {
		field, err := s.str()
		if err != nil {
			return bad(err)
		}
		if err := s.expect(':'); err != nil {
			return bad(err)
		}
		switch field {
		case "dtype":
			if err := once(&hasDtype, field); err != nil {
				return e, err
			}
			if s.peek() != '"' {
				what := s.kind()
				if err := s.skip(0); err != nil {
					return bad(err)
				}
				return fail(ErrInvalidTensor, "dtype must be a string such as \"F32\", found %s", what)
			}
			if e.Dtype, err = s.str(); err != nil {
				return bad(err)
			}
		case "shape":
			if err := once(&hasShape, field); err != nil {
				return e, err
			}
			if e.Shape, err = s.ints(field); err != nil {
				return bad(err)
			}
		case "data_offsets":
			if err := once(&hasOffsets, field); err != nil {
				return e, err
			}
			if e.DataOffsets, err = s.ints(field); err != nil {
				return bad(err)
			}
		default:
			if err := s.skip(0); err != nil {
				return bad(err)
			}
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return e, nil
		default:
			return bad(s.errorf("expected ',' or '}' in the entry"))
		}
	}
}

// parseMetadata reads "__metadata__": an object of strings (or null), each key once.
func (rd *Reader) parseMetadata(s *headerScanner) (map[string]string, error) {
	fail := func(kind error, format string, args ...any) error {
		return &ckpt.FormatError{File: rd.path, Msg: "__metadata__: " + fmt.Sprintf(format, args...), Err: kind}
	}
	md := map[string]string{}
	switch s.peek() {
	case 'n':
		if err := s.literal("null"); err != nil {
			return nil, fail(ErrInvalidJSON, "%v", err)
		}
		return md, nil
	case '{':
		s.i++
	default:
		return nil, fail(ErrInvalidJSON, "must be a map of strings to strings, found %s", s.kind())
	}
	if s.peek() == '}' {
		s.i++
		return md, nil
	}
	for {
		k, err := s.str()
		if err != nil {
			return nil, fail(ErrInvalidJSON, "%v", err)
		}
		if err := s.expect(':'); err != nil {
			return nil, fail(ErrInvalidJSON, "%v", err)
		}
		if s.peek() != '"' {
			return nil, fail(ErrInvalidJSON, "must be a map of strings to strings, but %q holds %s", k, s.kind())
		}
		v, err := s.str()
		if err != nil {
			return nil, fail(ErrInvalidJSON, "%v", err)
		}
		if _, dup := md[k]; dup {
			return nil, fail(ErrDuplicateField, "the key %q appears twice; a reader could take either value", k)
		}
		md[k] = v
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return md, nil
		default:
			return nil, fail(ErrInvalidJSON, "%v", s.errorf("expected ',' or '}'"))
		}
	}
}

func (rd *Reader) addTensor(name string, e entry) error {
	fail := func(kind error, format string, args ...any) error {
		return &ckpt.FormatError{File: rd.path, Tensor: name, Msg: fmt.Sprintf(format, args...), Err: kind}
	}
	if e.Dtype == "" {
		return fail(ErrInvalidTensor, "the entry has no dtype")
	}
	if e.Shape == nil {
		return fail(ErrInvalidTensor, "the entry has no shape")
	}
	if len(e.DataOffsets) != 2 {
		return fail(ErrInvalidTensor, "data_offsets must be [begin, end], found %d numbers", len(e.DataOffsets))
	}
	dt, err := dtype.Parse(e.Dtype)
	if err != nil {
		return &ckpt.UnsupportedError{File: rd.path, Tensor: name, Err: ErrUnknownDType,
			Msg: fmt.Sprintf("dtype %q is not one Ladle knows (%v)", e.Dtype, dtype.All)}
	}
	info := ckpt.Info{Name: name, DType: dt, Shape: e.Shape}
	nbytes := info.Bytes()
	if nbytes < 0 {
		return fail(ErrShapeOverflow, "shape %v is negative or has more elements than fit in 64 bits", e.Shape)
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin < 0 || end < begin {
		return fail(ErrOffsetsOutRange, "data_offsets [%d, %d] are not an ascending pair of non-negative offsets", begin, end)
	}
	if end-begin != nbytes {
		return fail(ErrSpanMismatch, "data_offsets [%d, %d] span %d bytes, but %s%v needs %d", begin, end, end-begin, dt, e.Shape, nbytes)
	}
	rd.tensors = append(rd.tensors, info)
	rd.spans[name] = span{begin, end}
	return nil
}

// checkSpans requires the data spans, in offset order, to tile [0, dataSize) exactly.
func (rd *Reader) checkSpans(dataSize int64) error {
	order := make([]int, len(rd.tensors))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		sa, sb := rd.spans[rd.tensors[order[a]].Name], rd.spans[rd.tensors[order[b]].Name]
		if sa.begin != sb.begin {
			return sa.begin < sb.begin
		}
		return sa.end < sb.end
	})
	var at int64
	for _, i := range order {
		name := rd.tensors[i].Name
		s := rd.spans[name]
		fail := func(kind error, format string, args ...any) error {
			return &ckpt.FormatError{File: rd.path, Tensor: name, Msg: fmt.Sprintf(format, args...), Err: kind}
		}
		switch {
		case s.begin > at:
			return fail(ErrOffsetsGap, "data starts at %d but the previous tensor ends at %d", s.begin, at)
		case s.begin < at:
			return fail(ErrOffsetsOverlap, "data [%d, %d] overlaps the previous tensor, which ends at %d", s.begin, s.end, at)
		case s.end > dataSize:
			return fail(ErrOffsetsOutRange, "the file is truncated at byte %d of %d: this tensor's data [%d, %d] runs past the end of the file's %d data bytes; copy or download it again",
				rd.dataBase+dataSize, rd.dataBase+rd.dataEnd(), s.begin, s.end, dataSize)
		}
		at = s.end
	}
	if at != dataSize {
		return &ckpt.FormatError{File: rd.path, Err: ErrTrailingData,
			Msg: fmt.Sprintf("the tensors end at data byte %d but the file has %d data bytes", at, dataSize)}
	}
	// Present tensors in file order: that is the order a writer streamed them in.
	sorted := make([]ckpt.Info, len(order))
	for k, i := range order {
		sorted[k] = rd.tensors[i]
	}
	rd.tensors = sorted
	return nil
}

// Path names the file the reader was opened from.
func (rd *Reader) Path() string { return rd.path }

// Format returns "safetensors".
func (rd *Reader) Format() string { return "safetensors" }

// Metadata returns the header's __metadata__ map (empty when absent).
func (rd *Reader) Metadata() map[string]string { return rd.metadata }

// Tensors lists the tensors in the order of their data in the file.
func (rd *Reader) Tensors() []ckpt.Info { return rd.tensors }

// Tensor returns a reader over the named tensor's bytes.
func (rd *Reader) Tensor(name string) (*io.SectionReader, error) {
	s, ok := rd.spans[name]
	if !ok {
		return nil, &ckpt.NotFoundError{File: rd.path, Tensor: name}
	}
	return io.NewSectionReader(rd.r, rd.dataBase+s.begin, s.end-s.begin), nil
}

// DataOffset is the file offset of the named tensor's first byte (for tools that map
// the file), and false when there is no such tensor.
func (rd *Reader) DataOffset(name string) (int64, bool) {
	s, ok := rd.spans[name]
	return rd.dataBase + s.begin, ok
}

// HeaderSize is the length of the JSON header in bytes.
func (rd *Reader) HeaderSize() int64 { return rd.dataBase - 8 }

// Close does nothing: the Reader does not own its io.ReaderAt.
func (rd *Reader) Close() error { return nil }

var _ ckpt.Source = (*Reader)(nil)

// dataEnd is where the header says the tensors' data ends (the data's full size).
func (rd *Reader) dataEnd() int64 {
	var end int64
	for _, s := range rd.spans {
		end = max(end, s.end)
	}
	return end
}
