package dtype

import "fmt"

// DType is an element type of a checkpoint tensor. The zero value is Invalid.
type DType uint8

// The element types Ladle reads. Names and byte sizes follow safetensors.
const (
	Invalid DType = iota
	F64
	F32
	F16
	BF16
	F8_E4M3
	F8_E5M2
	I64
	I32
	I16
	I8
	U64
	U32
	U16
	U8
	BOOL
)

var names = [...]string{
	Invalid: "INVALID",
	F64:     "F64",
	F32:     "F32",
	F16:     "F16",
	BF16:    "BF16",
	F8_E4M3: "F8_E4M3",
	F8_E5M2: "F8_E5M2",
	I64:     "I64",
	I32:     "I32",
	I16:     "I16",
	I8:      "I8",
	U64:     "U64",
	U32:     "U32",
	U16:     "U16",
	U8:      "U8",
	BOOL:    "BOOL",
}

var sizes = [...]int{
	F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
	I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
}

// All lists every valid DType in declaration order.
var All = []DType{F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U64, U32, U16, U8, BOOL}

// String returns the safetensors name of d ("F32", "BF16", ...).
func (d DType) String() string {
	if int(d) < len(names) {
		return names[d]
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Valid reports whether d is one of the known element types.
func (d DType) Valid() bool { return d > Invalid && int(d) < len(names) }

// Size is the number of bytes of one element; 0 for an invalid DType.
func (d DType) Size() int {
	if !d.Valid() {
		return 0
	}
	return sizes[d]
}

// IsFloat reports whether d is a floating-point type (the types merges average).
func (d DType) IsFloat() bool {
	switch d {
	case F64, F32, F16, BF16, F8_E4M3, F8_E5M2:
		return true
	}
	return false
}

// Parse returns the DType with the given safetensors name. Names are case-sensitive,
// as in safetensors headers, so that a misspelt header is caught rather than guessed
// at; ParseLoose accepts the looser spellings of recipes and command lines.
func Parse(name string) (DType, error) {
	for _, d := range All {
		if names[d] == name {
			return d, nil
		}
	}
	return Invalid, fmt.Errorf("unknown dtype %q (safetensors dtypes are %v)", name, All)
}
