package gguf

import "errors"

// Kinds of malformed or unsupported files, wrapped by *ckpt.FormatError and
// *ckpt.UnsupportedError so that callers can tell them apart with errors.Is.
var (
	ErrBadMagic      = errors.New("not a GGUF file: bad magic")
	ErrVersion       = errors.New("unsupported GGUF version")
	ErrTruncated     = errors.New("file is truncated")
	ErrTooMany       = errors.New("count or length exceeds the bytes in the file")
	ErrValueType     = errors.New("unknown metadata value type")
	ErrBadValue      = errors.New("invalid metadata value")
	ErrTooDeep       = errors.New("metadata arrays nested too deep")
	ErrDuplicateKey  = errors.New("duplicate metadata key")
	ErrBadAlignment  = errors.New("invalid general.alignment")
	ErrDuplicateName = errors.New("duplicate tensor name")
	ErrTooManyDims   = errors.New("tensor has too many dimensions")
	ErrShapeOverflow = errors.New("shape is negative or its product overflows")
	ErrUnknownType   = errors.New("unknown ggml tensor type")
	ErrQuantized     = errors.New("quantized tensor")
	ErrMisaligned    = errors.New("tensor offset is not aligned")
	ErrOutOfRange    = errors.New("tensor data lies outside the file")
	ErrOverlap       = errors.New("tensor data overlaps another tensor")
)
