package safetensors

import "errors"

// Kinds of malformed or unsupported files, wrapped by *ckpt.FormatError and
// *ckpt.UnsupportedError so that callers can tell them apart with errors.Is.
var (
	ErrTruncated       = errors.New("file is truncated")
	ErrHeaderTooLarge  = errors.New("header is too large")
	ErrHeaderPastEnd   = errors.New("header length points past the end of the file")
	ErrInvalidJSON     = errors.New("header is not valid JSON")
	ErrInvalidTensor   = errors.New("tensor entry is invalid")
	ErrDuplicateName   = errors.New("duplicate tensor name")
	ErrUnknownDType    = errors.New("unknown dtype")
	ErrShapeOverflow   = errors.New("shape is negative or its product overflows")
	ErrSpanMismatch    = errors.New("byte span disagrees with dtype and shape")
	ErrOffsetsGap      = errors.New("tensor data leaves a gap")
	ErrOffsetsOverlap  = errors.New("tensor data overlaps another tensor")
	ErrOffsetsOutRange = errors.New("tensor data lies outside the file")
	ErrTrailingData    = errors.New("file holds bytes after the last tensor")
	ErrDuplicateField  = errors.New("a field appears twice")
)
