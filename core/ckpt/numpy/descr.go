package numpy

import (
	"fmt"
	"strings"

	"ladle/core/dtype"
)

// elementTypes maps numpy's type codes (kind letter and item size, as in
// dtype.str without the byte-order character) to Ladle's element types.
var elementTypes = map[string]dtype.DType{
	"f2": dtype.F16, "f4": dtype.F32, "f8": dtype.F64,
	"i1": dtype.I8, "i2": dtype.I16, "i4": dtype.I32, "i8": dtype.I64,
	"u1": dtype.U8, "u2": dtype.U16, "u4": dtype.U32, "u8": dtype.U64,
	"b1": dtype.BOOL,
}

// descrProblem says why a descr is not read; object arrays get their own
// sentinel because they are the one case numpy itself refuses by default.
type descrProblem struct {
	kind error
	msg  string
}

// parseDescr maps a header's 'descr' string ("<f4", ">i8", "|b1", ...) to an
// element type and whether its bytes are big-endian.
func parseDescr(descr string) (dtype.DType, bool, *descrProblem) {
	order, code := byte('='), descr
	if code != "" && strings.IndexByte("<>|=", code[0]) >= 0 {
		order, code = code[0], code[1:]
	}
	dt, ok := elementTypes[code]
	if !ok {
		return dtype.Invalid, false, describeUnknown(descr, code)
	}
	if dt.Size() == 1 {
		return dt, false, nil
	}
	switch order {
	case '<':
		return dt, false, nil
	case '>':
		return dt, true, nil
	}
	// '|' (not applicable) and '=' (the writer's native order) do not say which
	// order the bytes are in; numpy writes '<' or '>' for every multi-byte type.
	return dtype.Invalid, false, &descrProblem{ErrUnsupportedType, fmt.Sprintf(
		"dtype %q does not record its byte order (numpy writes '<' or '>' for multi-byte types)", descr)}
}

// describeUnknown explains a type code Ladle does not read.
func describeUnknown(descr, code string) *descrProblem {
	why := "it is not a numeric type Ladle reads"
	switch {
	case code == "":
		why = "it is empty"
	case code[0] == 'O':
		return &descrProblem{ErrObjectArray, fmt.Sprintf("dtype %q is an object array, which numpy stores as a pickle; "+
			"pickled object arrays are not read (they could run code when loaded)", descr)}
	case code == "V2":
		why = "it is raw 2-byte records; this is how numpy saves bfloat16 arrays (ml_dtypes), " +
			"but nothing in the file says so: save them as float32 or through safetensors"
	case code[0] == 'V':
		why = "it is raw bytes (void) or a structured type"
	case code[0] == 'c':
		why = "complex numbers are not read"
	case code[0] == 'f':
		why = "only float16, float32 and float64 are read"
	case code[0] == 'S' || code[0] == 'U' || code[0] == 'a':
		why = "strings are not tensors"
	case code[0] == 'M' || code[0] == 'm':
		why = "dates and time deltas are not tensors"
	}
	return &descrProblem{ErrUnsupportedType, fmt.Sprintf("dtype %q is not read: %s (read are %s)", descr, why,
		"float16/32/64, int8/16/32/64, uint8/16/32/64 and bool")}
}
