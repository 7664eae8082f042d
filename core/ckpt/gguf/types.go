package gguf

import (
	"fmt"

	"ladle/core/dtype"
)

// ggmlType is a tensor's element type as GGUF stores it (ggml's enum ggml_type).
type ggmlType uint32

// ggmlTypes names ggml's types by number (gaps are types ggml removed) and
// gives the Ladle dtype of those stored one element at a time. The others are
// quantized: blocks of elements packed with shared scales, which Ladle does not
// decode.
var ggmlTypes = map[ggmlType]struct {
	name string
	dt   dtype.DType // Invalid for quantized types
}{
	0: {"F32", dtype.F32}, 1: {"F16", dtype.F16},
	2: {"Q4_0", 0}, 3: {"Q4_1", 0}, 4: {"Q4_2", 0}, 5: {"Q4_3", 0}, 6: {"Q5_0", 0}, 7: {"Q5_1", 0},
	8: {"Q8_0", 0}, 9: {"Q8_1", 0},
	10: {"Q2_K", 0}, 11: {"Q3_K", 0}, 12: {"Q4_K", 0}, 13: {"Q5_K", 0}, 14: {"Q6_K", 0}, 15: {"Q8_K", 0},
	16: {"IQ2_XXS", 0}, 17: {"IQ2_XS", 0}, 18: {"IQ3_XXS", 0}, 19: {"IQ1_S", 0}, 20: {"IQ4_NL", 0},
	21: {"IQ3_S", 0}, 22: {"IQ2_S", 0}, 23: {"IQ4_XS", 0},
	24: {"I8", dtype.I8}, 25: {"I16", dtype.I16}, 26: {"I32", dtype.I32}, 27: {"I64", dtype.I64},
	28: {"F64", dtype.F64}, 29: {"IQ1_M", 0}, 30: {"BF16", dtype.BF16},
	31: {"Q4_0_4_4", 0}, 32: {"Q4_0_4_8", 0}, 33: {"Q4_0_8_8", 0}, 34: {"TQ1_0", 0}, 35: {"TQ2_0", 0},
	36: {"IQ4_NL_4_4", 0}, 37: {"IQ4_NL_4_8", 0}, 38: {"IQ4_NL_8_8", 0}, 39: {"MXFP4", 0}, 40: {"NVFP4", 0},
}

func (t ggmlType) String() string {
	if info, ok := ggmlTypes[t]; ok {
		return info.name
	}
	return fmt.Sprintf("ggml type %d", uint32(t))
}

// valueType is the type of a metadata value (gguf_type).
type valueType uint32

const (
	tUint8 valueType = iota
	tInt8
	tUint16
	tInt16
	tUint32
	tInt32
	tFloat32
	tBool
	tString
	tArray
	tUint64
	tInt64
	tFloat64
	numValueTypes
)

var valueTypeNames = [numValueTypes]string{
	"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64",
}

func (t valueType) valid() bool { return t < numValueTypes }

func (t valueType) String() string {
	if t.valid() {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("value type %d", uint32(t))
}

// fixedSize is the encoded size of a scalar of type t; 0 for strings and arrays.
func (t valueType) fixedSize() int64 {
	switch t {
	case tUint8, tInt8, tBool:
		return 1
	case tUint16, tInt16:
		return 2
	case tUint32, tInt32, tFloat32:
		return 4
	case tUint64, tInt64, tFloat64:
		return 8
	}
	return 0
}

// minSize is the fewest bytes a value of type t takes: a string its 8-byte
// length, an array its 4-byte element type and 8-byte count. Counts are checked
// against it, so that no count can claim more values than the file could hold.
func (t valueType) minSize() int64 {
	switch t {
	case tString:
		return 8
	case tArray:
		return 12
	}
	return t.fixedSize()
}
