package numpy

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

// MaxHeaderLen is the largest .npy header read. numpy itself refuses headers
// over 10,000 bytes unless told to trust the file; this limit is looser but still
// keeps a hostile length from driving a large allocation.
const MaxHeaderLen = 1 << 20

// magic starts every .npy array.
const magic = "\x93NUMPY"

// arrayHeader is a parsed .npy header.
type arrayHeader struct {
	dt        dtype.DType
	shape     []int64
	fortran   bool  // the data is in column-major (Fortran) order
	bigEndian bool  // multi-byte elements are big-endian
	dataOff   int64 // bytes before the data: magic, version, header length and header
	nbytes    int64 // bytes of data: elements x element size
}

// where names a file and tensor in errors.
type where struct{ file, tensor string }

func (w where) format(kind error, format string, args ...any) error {
	return &ckpt.FormatError{File: w.file, Tensor: w.tensor, Msg: fmt.Sprintf(format, args...), Err: kind}
}

func (w where) unsupported(kind error, format string, args ...any) error {
	return &ckpt.UnsupportedError{File: w.file, Tensor: w.tensor, Msg: fmt.Sprintf(format, args...), Err: kind}
}

// readHeader reads a .npy header from r, the start of an array stream of avail
// bytes. It reads no more than the header.
func readHeader(r io.Reader, avail int64, w where) (*arrayHeader, error) {
	var pre [12]byte
	if avail < 10 {
		return nil, w.format(ErrTruncated, "the .npy array is %d bytes, shorter than its 10-byte preamble", avail)
	}
	if _, err := io.ReadFull(r, pre[:8]); err != nil {
		return nil, streamError(w, err, "reading the .npy preamble")
	}
	if string(pre[:6]) != magic {
		return nil, w.format(ErrBadMagic, "the array does not start with numpy's magic \\x93NUMPY")
	}
	major, minor := pre[6], pre[7]
	if minor != 0 || major < 1 || major > 3 {
		return nil, w.unsupported(ErrVersion, ".npy format version %d.%d (Ladle reads 1.0, 2.0 and 3.0)", major, minor)
	}
	// Version 1.0 has a 2-byte header length, 2.0 and 3.0 a 4-byte one.
	lenBytes := 2
	if major >= 2 {
		lenBytes = 4
	}
	prefix := int64(8 + lenBytes)
	if avail < prefix {
		return nil, w.format(ErrTruncated, "the .npy array is %d bytes, shorter than its %d-byte preamble", avail, prefix)
	}
	if _, err := io.ReadFull(r, pre[8:prefix]); err != nil {
		return nil, streamError(w, err, "reading the .npy header length")
	}
	var n int64
	if lenBytes == 2 {
		n = int64(binary.LittleEndian.Uint16(pre[8:10]))
	} else {
		n = int64(binary.LittleEndian.Uint32(pre[8:12]))
	}
	if n > MaxHeaderLen {
		return nil, w.format(ErrHeaderTooLarge, "the .npy header claims %d bytes, more than the %d-byte limit", n, MaxHeaderLen)
	}
	if n > avail-prefix {
		return nil, w.format(ErrTruncated, "the .npy header claims %d bytes but only %d follow", n, avail-prefix)
	}
	text := make([]byte, n)
	if _, err := io.ReadFull(r, text); err != nil {
		return nil, streamError(w, err, "reading the .npy header")
	}
	h, err := parseHeaderDict(string(text), w)
	if err != nil {
		return nil, err
	}
	h.dataOff = prefix + n
	return h, nil
}

// headerKeys are the keys numpy requires, no more and no fewer.
var headerKeys = []string{"descr", "fortran_order", "shape"}

// parseHeaderDict interprets the header's dict literal as numpy does.
func parseHeaderDict(text string, w where) (*arrayHeader, error) {
	v, err := parseLiteral(text)
	if err != nil {
		return nil, w.format(ErrBadHeader, "the .npy header is not a Python literal: %v", err)
	}
	d, ok := v.(*pyDict)
	if !ok {
		return nil, w.format(ErrBadHeader, "the .npy header is not a dict")
	}
	var keys []string
	for _, k := range d.keys {
		s, ok := k.(string)
		if !ok {
			return nil, w.format(ErrBadHeader, "the .npy header has a key that is not a string")
		}
		keys = append(keys, s)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != strings.Join(headerKeys, ",") {
		return nil, w.format(ErrBadHeader, "the .npy header has keys %q, want exactly %q", keys, headerKeys)
	}
	h := &arrayHeader{}

	descr, _ := d.get("descr")
	switch s := descr.(type) {
	case string:
		dt, big, problem := parseDescr(s)
		if problem != nil {
			return nil, w.unsupported(problem.kind, "%s", problem.msg)
		}
		h.dt, h.bigEndian = dt, big
	case pyList:
		return nil, w.unsupported(ErrUnsupportedType, "a structured (record) array of %d fields; only plain numeric arrays are read", len(s))
	default:
		return nil, w.format(ErrBadHeader, "'descr' is %s, not a string", pyTypeName(descr))
	}

	fortran, _ := d.get("fortran_order")
	if h.fortran, ok = fortran.(bool); !ok {
		return nil, w.format(ErrBadHeader, "'fortran_order' is %s, not True or False", pyTypeName(fortran))
	}

	shape, _ := d.get("shape")
	dims, ok := shape.(pyTuple)
	if !ok {
		return nil, w.format(ErrBadHeader, "'shape' is %s, not a tuple", pyTypeName(shape))
	}
	h.shape = make([]int64, len(dims))
	for i, dim := range dims {
		n, ok := dim.(int64)
		if !ok {
			return nil, w.format(ErrBadHeader, "'shape' holds %s, not an integer", pyTypeName(dim))
		}
		h.shape[i] = n
	}
	h.nbytes = ckpt.Info{DType: h.dt, Shape: h.shape}.Bytes()
	if h.nbytes < 0 {
		return nil, w.format(ErrShapeOverflow, "shape %v is negative or has more bytes than fit in 64 bits", h.shape)
	}
	return h, nil
}
