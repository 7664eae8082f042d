package gguf

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"ladle/core/ckpt"
)

const (
	magic = "GGUF"
	// DefaultAlignment is the data alignment when general.alignment is absent.
	DefaultAlignment = 32
	// MaxDims is the most dimensions a tensor may have: ggml's GGML_MAX_DIMS,
	// which the GGUF specification says is "currently at most 4".
	MaxDims = 4
	// The fewest bytes a metadata entry (key length, type, a 1-byte value) and a
	// tensor info (name length, dimension count, type, offset) can take.
	minKV         = 8 + 4 + 1
	minTensorInfo = 8 + 4 + 4 + 8
)

// tensorInfo is one entry of the tensor table, as stored.
type tensorInfo struct {
	name   string
	dims   []int64 // innermost first, as GGUF stores them
	typ    ggmlType
	offset int64 // from the start of the data section
}

// header is everything before the data section.
type header struct {
	version   uint32
	metadata  map[string]string
	alignment int64
	tensors   []tensorInfo
	end       int64 // file offset just past the tensor table
}

// readHeader reads and checks the header: magic, version, counts, metadata
// and the tensor table. Layout checks that need the tensor types come after.
func readHeader(r io.ReaderAt, size int64, path string) (*header, error) {
	d := newDecoder(r, size, path)
	var pre [8]byte
	if err := d.read(pre[:], "the magic and version"); err != nil {
		return nil, err
	}
	if string(pre[:4]) != magic {
		return nil, d.fail(ErrBadMagic, "the file does not start with \"GGUF\"")
	}
	h := &header{version: binary.LittleEndian.Uint32(pre[4:]), metadata: map[string]string{}, alignment: DefaultAlignment}
	switch {
	case h.version == 2 || h.version == 3:
	case binary.BigEndian.Uint32(pre[4:]) == 2 || binary.BigEndian.Uint32(pre[4:]) == 3:
		return nil, &ckpt.UnsupportedError{File: path, Err: ErrVersion,
			Msg: "a big-endian GGUF file; Ladle reads little-endian GGUF, which is what llama.cpp writes by default"}
	case h.version == 1:
		return nil, &ckpt.UnsupportedError{File: path, Err: ErrVersion,
			Msg: "GGUF version 1 (32-bit lengths, 2023); Ladle reads versions 2 and 3: convert the model again with a current llama.cpp"}
	default:
		return nil, &ckpt.UnsupportedError{File: path, Err: ErrVersion,
			Msg: fmt.Sprintf("GGUF version %d; Ladle reads versions 2 and 3", h.version)}
	}
	nTensors, err := d.u64("the tensor count")
	if err != nil {
		return nil, err
	}
	nKV, err := d.u64("the metadata count")
	if err != nil {
		return nil, err
	}
	// Both counts must fit in what remains, before either drives a loop or an allocation.
	left := uint64(d.left())
	if nTensors > left/minTensorInfo || nKV > (left-nTensors*minTensorInfo)/minKV {
		return nil, d.fail(ErrTooMany, "the header claims %d tensors and %d metadata entries, more than the %d remaining bytes can hold",
			nTensors, nKV, left)
	}
	for range nKV {
		if err := h.readKV(d); err != nil {
			return nil, err
		}
	}
	// The table grows as entries are read rather than from the count, which
	// bounds it by the file's size but could still ask for several times that.
	seen := map[string]bool{}
	for i := range nTensors {
		t, err := readTensorInfo(d, i)
		if err != nil {
			return nil, err
		}
		if seen[t.name] {
			return nil, &ckpt.FormatError{File: path, Tensor: t.name, Err: ErrDuplicateName, Msg: "the name appears twice in the tensor table"}
		}
		seen[t.name] = true
		h.tensors = append(h.tensors, t)
	}
	h.end = d.pos
	return h, nil
}

// readKV reads one metadata entry: key, value type, value.
func (h *header) readKV(d *decoder) error {
	key, err := d.str("a metadata key")
	if err != nil {
		return err
	}
	what := "metadata " + strconv.Quote(key)
	if _, dup := h.metadata[key]; dup {
		return d.fail(ErrDuplicateKey, "%s appears twice", what)
	}
	t, err := d.valueType(what)
	if err != nil {
		return err
	}
	v, err := d.value(t, what)
	if err != nil {
		return err
	}
	h.metadata[key] = v
	if key == "general.alignment" {
		// llama.cpp requires a uint32 power of two.
		a, _ := strconv.ParseUint(v, 10, 32)
		if t != tUint32 || a == 0 || a&(a-1) != 0 {
			return d.fail(ErrBadAlignment, "general.alignment is %s %s; it must be a uint32 power of two", t, v)
		}
		h.alignment = int64(a)
	}
	return nil
}

// readTensorInfo reads one entry of the tensor table.
func readTensorInfo(d *decoder, i uint64) (tensorInfo, error) {
	d.tensor = ""
	name, err := d.str(fmt.Sprintf("the name of tensor %d", i))
	if err != nil {
		return tensorInfo{}, err
	}
	d.tensor = name
	defer func() { d.tensor = "" }()
	nd, err := d.u32("the dimension count")
	if err != nil {
		return tensorInfo{}, err
	}
	if int64(nd) > d.left()/8 {
		return tensorInfo{}, d.truncated(fmt.Sprintf("%d dimensions", nd), int64(nd)*8)
	}
	if nd > MaxDims {
		return tensorInfo{}, &ckpt.UnsupportedError{File: d.path, Tensor: name, Err: ErrTooManyDims,
			Msg: fmt.Sprintf("%d dimensions; GGUF tensors have at most %d", nd, MaxDims)}
	}
	t := tensorInfo{name: name, dims: make([]int64, nd)}
	for k := range t.dims {
		v, err := d.u64("a dimension")
		if err != nil {
			return tensorInfo{}, err
		}
		if v > math.MaxInt64 {
			return tensorInfo{}, d.fail(ErrShapeOverflow, "dimension %d is %d, more than fits in an int64", k, v)
		}
		t.dims[k] = int64(v)
	}
	if ckpt.NumElements(t.dims) < 0 {
		return tensorInfo{}, d.fail(ErrShapeOverflow, "dimensions %v have more elements than fit in an int64", t.dims)
	}
	typ, err := d.u32("the tensor type")
	if err != nil {
		return tensorInfo{}, err
	}
	t.typ = ggmlType(typ)
	off, err := d.u64("the data offset")
	if err != nil {
		return tensorInfo{}, err
	}
	if off > math.MaxInt64 {
		return tensorInfo{}, d.fail(ErrOutOfRange, "data offset %d is past any file", off)
	}
	t.offset = int64(off)
	return t, nil
}

// shape turns GGUF's dimensions, innermost first, into a row-major shape,
// outermost first: GGUF's [8, 32000] embedding is [32000, 8], as in PyTorch.
func (t tensorInfo) shape() []int64 {
	s := make([]int64, len(t.dims))
	for i, d := range t.dims {
		s[len(s)-1-i] = d
	}
	return s
}

// span is where a tensor's bytes are in the file.
type span struct{ begin, end int64 }

// layout refuses the tensors Ladle cannot read, then checks that every
// tensor's data is aligned, inside the data section and clear of the others.
func (h *header) layout(size int64, path string) ([]ckpt.Info, map[string]span, error) {
	var quantized []tensorInfo
	for _, t := range h.tensors {
		info, known := ggmlTypes[t.typ]
		switch {
		case !known:
			return nil, nil, &ckpt.UnsupportedError{File: path, Tensor: t.name, Err: ErrUnknownType,
				Msg: fmt.Sprintf("ggml type %d is not one Ladle knows (it may be newer than Ladle)", uint32(t.typ))}
		case !info.dt.Valid():
			quantized = append(quantized, t)
		}
	}
	if len(quantized) > 0 {
		return nil, nil, quantizedError(path, quantized, len(h.tensors))
	}
	dataStart := alignUp(h.end, h.alignment)
	infos := make([]ckpt.Info, len(h.tensors))
	spans := make(map[string]span, len(h.tensors))
	for i, t := range h.tensors {
		fail := func(kind error, format string, args ...any) error {
			return &ckpt.FormatError{File: path, Tensor: t.name, Err: kind, Msg: fmt.Sprintf(format, args...)}
		}
		infos[i] = ckpt.Info{Name: t.name, DType: ggmlTypes[t.typ].dt, Shape: t.shape()}
		n := infos[i].Bytes()
		if n < 0 {
			return nil, nil, fail(ErrShapeOverflow, "%s%v has more bytes than fit in an int64", infos[i].DType, infos[i].Shape)
		}
		if t.offset%h.alignment != 0 {
			return nil, nil, fail(ErrMisaligned, "data offset %d is not a multiple of the alignment %d", t.offset, h.alignment)
		}
		if dataStart > size || t.offset > size-dataStart || n > size-dataStart-t.offset {
			return nil, nil, fail(ErrOutOfRange, "%d data bytes at data offset %d (file byte %d) run past the end of the %d-byte file (is it truncated?)",
				n, t.offset, dataStart+t.offset, size)
		}
		spans[t.name] = span{dataStart + t.offset, dataStart + t.offset + n}
	}
	if err := checkOverlaps(h.tensors, spans, path); err != nil {
		return nil, nil, err
	}
	return infos, spans, nil
}

// checkOverlaps requires the tensors' bytes, in file order, not to overlap.
// Gaps are allowed: writers pad each tensor to the alignment.
func checkOverlaps(tensors []tensorInfo, spans map[string]span, path string) error {
	order := make([]string, 0, len(tensors))
	for _, t := range tensors {
		if s := spans[t.name]; s.end > s.begin {
			order = append(order, t.name)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return spans[order[a]].begin < spans[order[b]].begin })
	for k := 1; k < len(order); k++ {
		prev, cur := spans[order[k-1]], spans[order[k]]
		if cur.begin < prev.end {
			return &ckpt.FormatError{File: path, Tensor: order[k], Err: ErrOverlap,
				Msg: fmt.Sprintf("data [%d, %d) overlaps tensor %q at [%d, %d)", cur.begin, cur.end, order[k-1], prev.begin, prev.end)}
		}
	}
	return nil
}

// quantizedError names the first quantized tensor and counts them all by type.
func quantizedError(path string, quantized []tensorInfo, total int) error {
	count := map[ggmlType]int{}
	for _, t := range quantized {
		count[t.typ]++
	}
	types := make([]ggmlType, 0, len(count))
	for t := range count {
		types = append(types, t)
	}
	sort.Slice(types, func(a, b int) bool {
		if count[types[a]] != count[types[b]] {
			return count[types[a]] > count[types[b]]
		}
		return types[a] < types[b]
	})
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = fmt.Sprintf("%s %d", t, count[t])
	}
	first := quantized[0]
	return &ckpt.UnsupportedError{File: path, Tensor: first.name, Err: ErrQuantized, Msg: fmt.Sprintf(
		"its type %s is quantized; %d of the file's %d tensors are quantized (%s). "+
			"Ladle reads only unquantized GGUF tensors (F32, F16, BF16, F64, I8 to I64), since merging "+
			"quantized blocks would need them decoded and requantized: use an F16 or F32 GGUF "+
			"(llama.cpp's convert_hf_to_gguf.py --outtype f16) or the original safetensors",
		first.typ, len(quantized), total, strings.Join(parts, ", "))}
}

// alignUp rounds n up to a multiple of a (a power of two, n non-negative and
// small enough not to overflow: it is at most the file's size).
func alignUp(n, a int64) int64 { return (n + a - 1) &^ (a - 1) }
