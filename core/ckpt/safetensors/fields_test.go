package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The header's fields are matched exactly and once each: encoding/json would let
// "DTYPE" or "Shape" stand in for "dtype" and "shape", and let a repeated field
// silently override the first, so two readers could see two different tensors.
func TestHeaderFieldsAreExact(t *testing.T) {
	cases := []struct {
		name   string
		header string
		kind   error
	}{
		{"upper-case key overrides", `{"a":{"dtype":"F32","DTYPE":"I32","shape":[1],"data_offsets":[0,4]}}`, nil},
		{"only an upper-case dtype", `{"a":{"DTYPE":"F32","shape":[1],"data_offsets":[0,4]}}`, ErrInvalidTensor},
		{"mixed-case shape", `{"a":{"dtype":"F32","Shape":[1],"data_offsets":[0,4]}}`, ErrInvalidTensor},
		{"mixed-case offsets", `{"a":{"dtype":"F32","shape":[1],"Data_Offsets":[0,4]}}`, ErrInvalidTensor},
		{"repeated dtype", `{"a":{"dtype":"I32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, ErrDuplicateField},
		{"repeated shape", `{"a":{"dtype":"F32","shape":[2],"shape":[1],"data_offsets":[0,4]}}`, ErrDuplicateField},
		{"repeated offsets", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8],"data_offsets":[0,4]}}`, ErrDuplicateField},
		{"repeated metadata key", `{"__metadata__":{"k":"v","k":"w"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, ErrDuplicateField},
		{"fractional dimension", `{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}`, ErrInvalidTensor},
		{"null shape", `{"a":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, ErrInvalidTensor},
		{"dtype of the wrong type", `{"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}`, ErrInvalidTensor},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := file(c.header, 4)
			r, err := Open(bytes.NewReader(data), int64(len(data)), "fields.safetensors")
			if c.kind == nil {
				// An unknown key ("DTYPE" is not "dtype") is skipped, as the reference
				// implementation skips it: the tensor is the F32 the real key says.
				if err != nil {
					t.Fatal(err)
				}
				if got := r.Tensors()[0].DType.String(); got != "F32" {
					t.Fatalf("dtype %s, want F32: a key that is not exactly \"dtype\" overrode it", got)
				}
				return
			}
			if !errors.Is(err, c.kind) {
				t.Fatalf("got %v, want %v", err, c.kind)
			}
			if !strings.Contains(err.Error(), "fields.safetensors") {
				t.Errorf("the error does not name the file: %v", err)
			}
		})
	}
}

// Unknown fields of any JSON shape are skipped, and a scalar's shape is [].
func TestHeaderSkipsUnknownFields(t *testing.T) {
	h := `{"a":{"x":{"y":[1,{"z":null}],"w":"s"},"dtype":"F32","shape":[],"note":[[],{}],"data_offsets":[0,4]}}`
	data := file(h, 4)
	r, err := Open(bytes.NewReader(data), int64(len(data)), "unknown.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if info := r.Tensors()[0]; info.Shape == nil || len(info.Shape) != 0 || info.DType.String() != "F32" {
		t.Fatalf("got %+v", info)
	}
}

// BenchmarkOpenHeader parses the header of a 20,000-tensor checkpoint (about the
// size of a large model's index), the cost Open adds before any data is read.
func BenchmarkOpenHeader(b *testing.B) {
	var h strings.Builder
	h.WriteString(`{"__metadata__":{"format":"pt"}`)
	const n = 20000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&h, `,"model.layers.%d.self_attn.q_proj.weight":{"dtype":"F32","shape":[1],"data_offsets":[%d,%d]}`, i, 4*i, 4*i+4)
	}
	h.WriteString("}")
	data := file(h.String(), 4*n)
	b.SetBytes(int64(h.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(bytes.NewReader(data), int64(len(data)), "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// Names are JSON strings exactly as encoding/json reads them: escapes decoded,
// UTF-8 kept, invalid UTF-8 replaced.
func TestHeaderNamesDecodeAsJSON(t *testing.T) {
	for _, name := range []string{`plain`, `poids.é`, `tab\there`, `\u00e9\ud83d\ude00`, "bad\xffbyte", `q\"uote\\`} {
		h := `{"` + name + `":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`
		data := file(h, 4)
		r, err := Open(bytes.NewReader(data), int64(len(data)), "names.safetensors")
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		var want string
		if err := json.Unmarshal([]byte(`"`+name+`"`), &want); err != nil {
			t.Fatal(err)
		}
		if got := r.Tensors()[0].Name; got != want {
			t.Errorf("%q read as %q, encoding/json reads %q", name, got, want)
		}
	}
}
