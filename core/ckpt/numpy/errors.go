package numpy

import "errors"

// Kinds of malformed or unsupported files, wrapped by *ckpt.FormatError and
// *ckpt.UnsupportedError so that callers can tell them apart with errors.Is.
var (
	ErrBadMagic        = errors.New("not a .npy array: bad magic")
	ErrTruncated       = errors.New("file is truncated")
	ErrHeaderTooLarge  = errors.New(".npy header is too large")
	ErrBadHeader       = errors.New(".npy header is malformed")
	ErrVersion         = errors.New("unsupported .npy format version")
	ErrUnsupportedType = errors.New("unsupported numpy dtype")
	ErrObjectArray     = errors.New("pickled object array")
	ErrShapeOverflow   = errors.New("shape is negative or its product overflows")
	ErrBadZip          = errors.New("not a readable zip archive")
	ErrNotNPZ          = errors.New("zip archive holds no .npy arrays")
	ErrDuplicateName   = errors.New("duplicate array name")
	ErrZipMethod       = errors.New("unsupported zip compression method")
	ErrCorrupt         = errors.New("zip entry data is corrupt")
)
