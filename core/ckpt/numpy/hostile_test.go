package numpy

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"ladle/core/ckpt"
)

func TestHostileNPY(t *testing.T) {
	ok := dict("<i8", false, "(2,)")
	deep := strings.Repeat("(", 100) + strings.Repeat(")", 100)
	v2huge := append([]byte(magic), 2, 0, 0xff, 0xff, 0xff, 0x7f)
	cases := []struct {
		name  string
		data  []byte
		kind  error
		unsup bool
	}{
		{"empty", nil, ErrTruncated, false},
		{"short preamble", []byte(magic + "\x01\x00\x10"), ErrTruncated, false},
		{"bad magic", []byte("\x93NUMPZ\x01\x00\x00\x00"), ErrBadMagic, false},
		{"version 4.0", npy(4, ok, le64(1, 2)), ErrVersion, true},
		{"version 1.1", append([]byte(magic+"\x01\x01"), npy(1, ok, le64(1, 2))[8:]...), ErrVersion, true},
		{"2 GB header", v2huge, ErrHeaderTooLarge, false},
		{"header past the end", append([]byte(magic+"\x01\x00"), 0xff, 0x00, '{'), ErrTruncated, false},
		{"truncated data", npy(1, ok, le64(1)), ErrTruncated, false},
		{"not a literal", npy(1, "{'descr': <i8}", nil), ErrBadHeader, false},
		{"not a dict", npy(1, "('<i8', False, (2,))", nil), ErrBadHeader, false},
		{"missing key", npy(1, "{'descr': '<i8', 'shape': (2,)}", le64(1, 2)), ErrBadHeader, false},
		{"extra key", npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), 'x': 1}", le64(1, 2)), ErrBadHeader, false},
		{"non-string key", npy(1, "{1: '<i8', 'fortran_order': False, 'shape': (2,)}", le64(1, 2)), ErrBadHeader, false},
		{"descr not a string", npy(1, "{'descr': 4, 'fortran_order': False, 'shape': (2,)}", le64(1, 2)), ErrBadHeader, false},
		{"fortran_order not a bool", npy(1, "{'descr': '<i8', 'fortran_order': 0, 'shape': (2,)}", le64(1, 2)), ErrBadHeader, false},
		{"shape a list", npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': [2]}", le64(1, 2)), ErrBadHeader, false},
		{"shape of strings", npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': ('2',)}", le64(1, 2)), ErrBadHeader, false},
		{"negative dimension", npy(1, dict("<i8", false, "(-1,)"), nil), ErrShapeOverflow, false},
		{"shape overflow", npy(1, dict("<i8", false, "(4294967296, 4294967296)"), nil), ErrShapeOverflow, false},
		{"byte overflow", npy(1, dict("<f8", false, "(2305843009213693952,)"), nil), ErrShapeOverflow, false},
		{"dimension past int64", npy(1, dict("<i8", false, "(99999999999999999999,)"), nil), ErrBadHeader, false},
		{"deep nesting", npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': "+deep+"}", nil), ErrBadHeader, false},
		{"unterminated string", npy(1, "{'descr: '<i8'}", nil), ErrBadHeader, false},
		{"object array", npy(1, dict("|O", false, "(2,)"), nil), ErrObjectArray, true},
		{"structured array", npy(1, "{'descr': [('a', '<f4'), ('b', '<i8')], 'fortran_order': False, 'shape': (2,)}", nil), ErrUnsupportedType, true},
		{"bfloat16 as void", npy(1, dict("<V2", false, "(2,)"), nil), ErrUnsupportedType, true},
		{"complex", npy(1, dict("<c8", false, "(2,)"), nil), ErrUnsupportedType, true},
		{"long double", npy(1, dict("<f16", false, "(2,)"), nil), ErrUnsupportedType, true},
		{"string", npy(1, dict("|S5", false, "(2,)"), nil), ErrUnsupportedType, true},
		{"datetime", npy(1, dict("<M8[ns]", false, "(2,)"), nil), ErrUnsupportedType, true},
		{"unknown byte order", npy(1, dict("|f4", false, "(2,)"), nil), ErrUnsupportedType, true},
		{"native byte order", npy(1, dict("=i4", false, "(2,)"), nil), ErrUnsupportedType, true},
		{"empty descr", npy(1, dict("", false, "(2,)"), nil), ErrUnsupportedType, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := OpenNPY(bytes.NewReader(c.data), int64(len(c.data)), "hostile.npy")
			checkError(t, err, c.kind, c.unsup, "hostile.npy", "")
		})
	}
}

// checkError checks an error's kind, type and the names it gives.
func checkError(t *testing.T, err error, kind error, unsup bool, file, tensor string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("got %v, want %v", err, kind)
	}
	var fe *ckpt.FormatError
	var ue *ckpt.UnsupportedError
	switch {
	case unsup && !errors.As(err, &ue):
		t.Errorf("want an UnsupportedError, got %T: %v", err, err)
	case !unsup && !errors.As(err, &fe):
		t.Errorf("want a FormatError, got %T: %v", err, err)
	}
	if !strings.HasPrefix(err.Error(), file+": ") {
		t.Errorf("the error does not name the file: %v", err)
	}
	if tensor != "" && !strings.Contains(err.Error(), `tensor "`+tensor+`"`) {
		t.Errorf("the error does not name tensor %q: %v", tensor, err)
	}
}

// patchCentral rewrites a field of the first central directory header of z.
func patchCentral(z []byte, off int, v []byte) []byte {
	z = bytes.Clone(z)
	i := bytes.Index(z, []byte("PK\x01\x02"))
	copy(z[i+off:], v)
	return z
}

func TestHostileNPZ(t *testing.T) {
	arr := npy(1, dict("<i8", false, "(2,)"), le64(1, 2))
	stored := npzFile(t, zipEntry{"a.npy", arr, zip.Store})
	deflated := npzFile(t, zipEntry{"a.npy", arr, zip.Deflate})
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	cases := []struct {
		name   string
		data   []byte
		kind   error
		unsup  bool
		tensor string
	}{
		{"not a zip", []byte("PK\x03\x04 and then nothing"), ErrBadZip, false, ""},
		{"no arrays", npzFile(t, zipEntry{"a.txt", []byte("x"), zip.Store}), ErrNotNPZ, false, ""},
		{"duplicate names", npzFile(t, zipEntry{"a.npy", arr, zip.Store}, zipEntry{"a.npy", arr, zip.Store}), ErrDuplicateName, false, "a"},
		{"array past its entry", npzFile(t, zipEntry{"a.npy", arr[:len(arr)-1], zip.Store}), ErrTruncated, false, "a"},
		{"header past its entry", npzFile(t, zipEntry{"a.npy", arr[:20], zip.Deflate}), ErrTruncated, false, "a"},
		{"not an array", npzFile(t, zipEntry{"a.npy", []byte("just some text here"), zip.Store}), ErrBadMagic, false, "a"},
		{"bad dtype inside", npzFile(t, zipEntry{"o.npy", npy(1, dict("|O", false, "(1,)"), nil), zip.Store}), ErrObjectArray, true, "o"},
		{"other compression", npzFile(t, zipEntry{"a.npy", arr, 12}), ErrZipMethod, true, "a"},
		{"encrypted", patchCentral(stored, 8, []byte{1, 0}), ErrZipMethod, true, "a"},
		// Sizes in the central directory: compressed at 20, uncompressed at 24.
		{"stored sizes differ", patchCentral(stored, 24, u32(uint32(len(arr)-8))), ErrBadZip, false, "a"},
		{"entry past the end", patchCentral(stored, 20, u32(1<<30)), ErrTruncated, false, "a"},
		{"impossible inflation", patchCentral(deflated, 24, u32(0xfffffff0)), ErrBadZip, false, "a"},
		{"local header offset past the end", patchCentral(stored, 42, u32(1<<30)), ErrBadZip, false, "a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := OpenNPZ(bytes.NewReader(c.data), int64(len(c.data)), "hostile.npz")
			checkError(t, err, c.kind, c.unsup, "hostile.npz", c.tensor)
		})
	}
}

// TestCorruptDeflateIsFoundOnRead flips bits in a deflated entry's data,
// after its header: Open succeeds, and Tensor reports the corruption.
func TestCorruptDeflateIsFoundOnRead(t *testing.T) {
	arr := npy(1, dict("<i8", false, "(64,)"), le64(iota64(64, 1000)...))
	z := npzFile(t, zipEntry{"a.npy", arr, zip.Deflate})
	zr, _ := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	start, _ := zr.File[0].DataOffset()
	end := start + int64(zr.File[0].CompressedSize64)
	found := 0
	for i := start; i < end; i++ {
		bad := bytes.Clone(z)
		bad[i] ^= 0x55
		rd, err := OpenNPZ(bytes.NewReader(bad), int64(len(bad)), "bad.npz")
		if err != nil {
			checkTyped(t, err)
			continue
		}
		if _, err := ckpt.ReadAll(rd, "a"); err != nil {
			checkError(t, err, err.(*ckpt.FormatError).Err, false, "bad.npz", "a")
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
				t.Errorf("byte %d: %v", i, err)
			}
			found++
		} else {
			t.Errorf("flipping byte %d of the deflated data went unnoticed", i)
		}
	}
	if found == 0 {
		t.Fatal("no corruption reached Tensor")
	}
}

// TestEveryTruncation cuts the fixtures (or synthetic files) at every length:
// each must fail to open with a typed error, or open and read back whole.
func TestEveryTruncation(t *testing.T) {
	files := map[string][]byte{
		"synthetic.npy": npy(1, dict(">f4", true, "(2, 3)"), make([]byte, 24)),
		"synthetic.npz": npzFile(t, zipEntry{"a.npy", npy(1, dict("<i8", false, "(3,)"), le64(1, 2, 3)), zip.Deflate},
			zipEntry{"b.npy", npy(3, dict("<f2", false, "(2,)"), []byte{1, 2, 3, 4}), zip.Store}),
	}
	if dir := fixturesIfPresent(); dir != "" {
		files["test.npy"] = fixture(t, "candle/test.npy")
		files["test.npz"] = fixture(t, "candle/test.npz")
	}
	for name, b := range files {
		for n := range len(b) {
			cut := b[:n]
			rd, err := openAny(cut, name)
			if err == nil && strings.HasSuffix(name, ".npz") && n > 0 {
				// A zip cut inside its directory cannot open; one cut elsewhere
				// cannot either, since the directory is at the end.
				t.Errorf("%s cut to %d bytes opened", name, n)
			}
			if err != nil {
				checkTyped(t, err)
				if !strings.HasPrefix(err.Error(), name+": ") {
					t.Errorf("%s[:%d]: the error does not name the file: %v", name, n, err)
				}
				continue
			}
			for _, info := range rd.Tensors() {
				if _, err := ckpt.ReadAll(rd, info.Name); err != nil {
					checkTyped(t, err)
				}
			}
		}
	}
}
