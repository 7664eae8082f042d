package dtype

import (
	"fmt"
	"strings"
)

// aliases are the spellings of recipes (mergekit's dtype and out_dtype keys),
// PyTorch (torch.float16 and its short names) and command lines. A slice, not a
// map, so that the error message lists them in a stable, readable order.
var aliases = []struct {
	name string
	d    DType
}{
	{"float32", F32}, {"fp32", F32}, {"float", F32},
	{"float16", F16}, {"fp16", F16}, {"half", F16},
	{"bfloat16", BF16}, {"bf16", BF16},
	{"float64", F64}, {"fp64", F64}, {"double", F64},
	{"float8_e4m3fn", F8_E4M3},
	{"float8_e5m2", F8_E5M2},
	{"int64", I64}, {"long", I64},
	{"int32", I32}, {"int", I32},
	{"int16", I16}, {"short", I16},
	{"int8", I8},
	{"uint64", U64}, {"uint32", U32}, {"uint16", U16},
	{"uint8", U8}, {"byte", U8},
	{"bool", BOOL},
}

// ParseLoose is Parse for people: it ignores case and surrounding space,
// accepts a "torch." prefix, and knows the aliases of recipes and command lines
// (float32/fp32, float16/fp16/half, bfloat16/bf16, float64/fp64/double,
// int64/long, int32/int, int16, int8, uint8/byte, bool, float8_e4m3fn,
// float8_e5m2) besides the safetensors names.
//
// float8_e4m3fn is accepted but not a bare "e4m3": PyTorch's float8_e4m3 without
// the fn suffix would be a different format, with infinities.
func ParseLoose(name string) (DType, error) {
	s := strings.ToLower(strings.TrimSpace(name))
	s = strings.TrimPrefix(s, "torch.")
	for _, a := range aliases {
		if a.name == s {
			return a.d, nil
		}
	}
	for _, d := range All {
		if strings.EqualFold(names[d], s) {
			return d, nil
		}
	}
	return Invalid, fmt.Errorf("unknown dtype %q (accepted, in any case: %s)", name, acceptedNames())
}

func acceptedNames() string {
	var b strings.Builder
	for i, d := range All {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(names[d])
	}
	for _, a := range aliases {
		b.WriteString(", ")
		b.WriteString(a.name)
	}
	return b.String()
}
