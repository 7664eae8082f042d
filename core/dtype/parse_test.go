package dtype

import (
	"strings"
	"testing"
)

func TestParseExactNames(t *testing.T) {
	for _, d := range All {
		got, err := Parse(d.String())
		if err != nil || got != d {
			t.Errorf("Parse(%q) = %v, %v", d.String(), got, err)
		}
	}
	for _, bad := range []string{"", "f32", "float32", "INVALID", "F 32"} {
		if d, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, d)
		}
	}
}

func TestParseLoose(t *testing.T) {
	for name, want := range map[string]DType{
		"float32": F32, "fp32": F32, "FP32": F32, "Float32": F32, "torch.float32": F32, "f32": F32,
		"float":   F32, // torch.float
		"float16": F16, "fp16": F16, "half": F16, "HALF": F16, "f16": F16,
		"bfloat16": BF16, "bf16": BF16, "BF16": BF16, " bfloat16\n": BF16,
		"float64": F64, "fp64": F64, "double": F64,
		"int64": I64, "long": I64, "int32": I32, "int": I32, "int16": I16, "int8": I8,
		"uint8": U8, "byte": U8, "u8": U8, "bool": BOOL, "BOOL": BOOL,
		"float8_e4m3fn": F8_E4M3, "torch.float8_e4m3fn": F8_E4M3, "F8_E4M3": F8_E4M3,
		"float8_e5m2": F8_E5M2, "f8_e5m2": F8_E5M2,
	} {
		got, err := ParseLoose(name)
		if err != nil || got != want {
			t.Errorf("ParseLoose(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	for _, d := range All {
		if got, err := ParseLoose(strings.ToLower(d.String())); err != nil || got != d {
			t.Errorf("ParseLoose(%q) = %v, %v", strings.ToLower(d.String()), got, err)
		}
	}
	_, err := ParseLoose("float8_e4m3")
	if err == nil {
		t.Fatal(`ParseLoose("float8_e4m3") accepted a format Ladle does not read`)
	}
	for _, name := range []string{"F32", "bfloat16", "fp16", "half", "float8_e4m3fn", "uint8"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %s", err, name)
		}
	}
	for _, bad := range []string{"", "invalid", "torch.", "fp8", "e4m3", "int4"} {
		if d, err := ParseLoose(bad); err == nil {
			t.Errorf("ParseLoose(%q) = %v, want an error", bad, d)
		}
	}
}

func TestDTypeBasics(t *testing.T) {
	for _, d := range All {
		if !d.Valid() || d.Size() == 0 {
			t.Errorf("%v: Valid %v, Size %d", d, d.Valid(), d.Size())
		}
	}
	for _, d := range []DType{Invalid, DType(len(All) + 1), 255} {
		if d.Valid() || d.Size() != 0 {
			t.Errorf("%v: Valid %v, Size %d; want invalid with size 0", d, d.Valid(), d.Size())
		}
	}
	if s := DType(200).String(); s != "DType(200)" {
		t.Errorf("String of an unknown dtype = %q", s)
	}
}
