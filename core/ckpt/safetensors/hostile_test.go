package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/ckpttest"
)

// file builds a safetensors file from a raw header and dataLen bytes of data.
func file(header string, dataLen int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, dataLen)...)
}

func TestHostileFiles(t *testing.T) {
	valid := file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8)
	cases := []struct {
		name   string
		data   []byte
		kind   error
		tensor string // the tensor the error must name, if any
		unsup  bool   // an UnsupportedError rather than a FormatError
	}{
		{"empty file", nil, ErrTruncated, "", false},
		{"shorter than the length", []byte{1, 2, 3}, ErrTruncated, "", false},
		{"truncated data", valid[:len(valid)-1], ErrOffsetsOutRange, "a", false},
		{"header length past the end", append(binary.LittleEndian.AppendUint64(nil, 500), `{"a":1}`...), ErrHeaderPastEnd, "", false},
		{"1 GB header claim", append(binary.LittleEndian.AppendUint64(nil, 1<<30), `{}`...), ErrHeaderTooLarge, "", false},
		{"overlapping offsets", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12), ErrOffsetsOverlap, "b", false},
		{"offsets out of range", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4), ErrOffsetsOutRange, "a", false},
		{"negative offsets", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, 8), ErrOffsetsOutRange, "a", false},
		{"offsets with a gap", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, 12), ErrOffsetsGap, "b", false},
		{"gap at the start", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), ErrOffsetsGap, "a", false},
		{"trailing bytes", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 9), ErrTrailingData, "", false},
		{"shape overflow", file(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, 0), ErrShapeOverflow, "a", false},
		{"byte overflow", file(`{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}`, 0), ErrShapeOverflow, "a", false},
		{"negative dimension", file(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, 0), ErrShapeOverflow, "a", false},
		{"span disagrees with shape", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8), ErrSpanMismatch, "a", false},
		{"duplicate names", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), ErrDuplicateName, "a", false},
		{"bad JSON", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]`, 4), ErrInvalidJSON, "", false},
		{"not an object", file(`["a"]    `, 0), ErrInvalidJSON, "", false},
		{"JSON after the object", file(`{} {}`, 0), ErrInvalidJSON, "", false},
		// A NUL is padding only at the very end; one followed by anything else is
		// data after the object (found by FuzzOpen: the scanner once read NUL as the end).
		{"NUL then data after the object", file("{}   \x00000", 0), ErrInvalidJSON, "", false},
		{"NUL inside the object", file("{\x00}", 0), ErrInvalidJSON, "", false},
		{"entry of the wrong type", file(`{"a":"F32"}`, 0), ErrInvalidTensor, "a", false},
		{"offsets of three numbers", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 4), ErrInvalidTensor, "a", false},
		{"no dtype", file(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, 4), ErrInvalidTensor, "a", false},
		{"metadata not strings", file(`{"__metadata__":{"a":1}}`, 0), ErrInvalidJSON, "", false},
		{"unknown dtype", file(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, 16), ErrUnknownDType, "a", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(bytes.NewReader(c.data), int64(len(c.data)), "hostile.safetensors")
			if !errors.Is(err, c.kind) {
				t.Fatalf("got %v, want %v", err, c.kind)
			}
			if !strings.Contains(err.Error(), "hostile.safetensors") {
				t.Errorf("the error does not name the file: %v", err)
			}
			var fe *ckpt.FormatError
			var ue *ckpt.UnsupportedError
			switch {
			case c.unsup && !errors.As(err, &ue):
				t.Errorf("want an UnsupportedError, got %T", err)
			case !c.unsup && !errors.As(err, &fe):
				t.Errorf("want a FormatError, got %T", err)
			}
			if c.tensor != "" && !strings.Contains(err.Error(), `"`+c.tensor+`"`) {
				t.Errorf("the error does not name tensor %q: %v", c.tensor, err)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	f.Add(file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8))
	f.Add(file(`{"__metadata__":{"k":"v"},"a":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}`, 2))
	// Exact, unrepeated fields; unknown ones of every JSON shape skipped.
	f.Add(file(`{"a":{"dtype":"F32","DTYPE":"I32","shape":[1],"data_offsets":[0,4]}}`, 4))
	f.Add(file(`{"a":{"dtype":"I32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4))
	f.Add(file(`{"__metadata__":{"k":"v","k":"w"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4))
	f.Add(file(`{"a\u001b[31m":{"x":{"y":[1.5e3,true,null,{"z":"\u00e9"}]},"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, 4))
	if dir := fixturesIfPresent(); dir != "" {
		for _, pattern := range []string{"safetensors-samples/*.safetensors", "pytorch/*.safetensors"} {
			matches, _ := filepath.Glob(filepath.Join(dir, pattern))
			for _, m := range matches {
				if b, err := os.ReadFile(m); err == nil {
					f.Add(b)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Open(bytes.NewReader(data), int64(len(data)), "fuzz")
		if err != nil {
			var fe *ckpt.FormatError
			var ue *ckpt.UnsupportedError
			if !errors.As(err, &fe) && !errors.As(err, &ue) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		// Whatever is accepted is JSON, and means what encoding/json says it means.
		n := binary.LittleEndian.Uint64(data)
		hdr := bytes.TrimRight(data[8:8+n], " \x00")
		var asJSON map[string]json.RawMessage
		if err := json.Unmarshal(hdr, &asJSON); err != nil {
			t.Fatalf("accepted a header that is not a JSON object: %v: %q", err, hdr)
		}
		delete(asJSON, "__metadata__")
		if len(asJSON) != len(r.Tensors()) {
			t.Fatalf("encoding/json sees %d tensors, the reader %d", len(asJSON), len(r.Tensors()))
		}
		for _, info := range r.Tensors() {
			if _, ok := asJSON[info.Name]; !ok {
				t.Fatalf("tensor %q is not a key as encoding/json reads the header", info.Name)
			}
		}
		var total int64
		for _, info := range r.Tensors() {
			b, err := ckpt.ReadAll(r, info.Name)
			if err != nil {
				t.Fatalf("a validated file fails to read %s: %v", info.Name, err)
			}
			total += int64(len(b))
		}
		if total != int64(len(data))-8-r.HeaderSize() {
			t.Fatalf("tensors cover %d bytes of %d", total, int64(len(data))-8-r.HeaderSize())
		}
		// What Ladle reads, it writes back as a valid file with the same data.
		var data2 [][]byte
		for _, info := range r.Tensors() {
			b, _ := ckpt.ReadAll(r, info.Name)
			data2 = append(data2, b)
		}
		out := mustWrite(t, r.Tensors(), r.Metadata(), data2)
		if _, err := Open(bytes.NewReader(out), int64(len(out)), "rewritten"); err != nil {
			t.Fatalf("rewriting a valid file gave an invalid one: %v", err)
		}
	})
}

// fixturesIfPresent returns the fixtures folder, or "" without skipping (for fuzz seeds).
func fixturesIfPresent() string {
	root, err := ckpttest.RepoRoot()
	if err != nil {
		return ""
	}
	dir := filepath.Join(root, "..", "shared", "fixtures")
	if d := os.Getenv("LADLE_FIXTURES"); d != "" {
		dir = d
	}
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}
