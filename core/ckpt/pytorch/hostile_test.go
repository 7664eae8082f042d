package pytorch

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ladle/core/ckpt"
)

// readAllTensors reads every tensor of src, returning their bytes by name, and
// fails on any error that is not one of ckpt's.
func readAllTensors(t testing.TB, src ckpt.Source) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, in := range src.Tensors() {
		r, err := src.Tensor(in.Name)
		if err != nil {
			checkTyped(t, err)
			return nil, err
		}
		if r.Size() != in.Bytes() {
			t.Fatalf("%s: reader of %d bytes for a %d-byte tensor", in.Name, r.Size(), in.Bytes())
		}
		b, err := ckpt.ReadAll(src, in.Name)
		if err != nil {
			checkTyped(t, err)
			return nil, err
		}
		out[in.Name] = b
	}
	return out, nil
}

// TestTruncated cuts the fixtures at many lengths: each cut either fails with
// a typed error or still gives exactly the complete file's tensors (a tar's
// trailing padding carries nothing).
func TestTruncated(t *testing.T) {
	dir := fixtureDir(t, "pytorch")
	var files []string
	for _, sub := range []string{"pytorch", "candle", "burn-mnist"} {
		m, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), sub, "*.pt*"))
		files = append(files, m...)
		m, _ = filepath.Glob(filepath.Join(filepath.Dir(dir), sub, "*.tar"))
		files = append(files, m...)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		full, err := readAllTensors(t, openBytes(t, b))
		if err != nil {
			t.Fatal(err)
		}
		var cuts []int
		if len(b) < 16<<10 {
			for n := 0; n < len(b); n++ {
				cuts = append(cuts, n)
			}
		} else {
			for _, n := range []int{0, 1, 4, 29, 30, 100, 1000, 2000, len(b) / 2, len(b) - 100, len(b) - 22, len(b) - 1} {
				cuts = append(cuts, n)
			}
		}
		for _, n := range cuts {
			cut := b[:n]
			src, err := Open(bytes.NewReader(cut), int64(n), "cut.pt")
			if err != nil {
				checkTyped(t, err)
				continue
			}
			got, err := readAllTensors(t, src)
			if err != nil {
				continue
			}
			if len(got) != len(full) {
				t.Fatalf("%s cut at %d: %d tensors, want %d or an error", f, n, len(got), len(full))
			}
			for name, data := range full {
				if !bytes.Equal(got[name], data) {
					t.Fatalf("%s cut at %d: %s differs from the complete file's", f, n, name)
				}
			}
		}
	}
}

// expectError opens b and checks the error's type, tensor name and message.
func expectError(t *testing.T, b []byte, target any, tensor, substr string) {
	t.Helper()
	src, err := Open(bytes.NewReader(b), int64(len(b)), "bad.pt")
	if err == nil {
		// Some problems only show when the tensor is read.
		for _, in := range src.Tensors() {
			if _, err = src.Tensor(in.Name); err != nil {
				break
			}
		}
	}
	if err == nil {
		t.Fatalf("no error, want one containing %q", substr)
	}
	checkTyped(t, err)
	switch want := target.(type) {
	case **ckpt.FormatError:
		if !errors.As(err, want) {
			t.Fatalf("error %T (%v), want a FormatError", err, err)
		}
		if (*want).Tensor != tensor || (*want).File != "bad.pt" {
			t.Fatalf("FormatError names file %q tensor %q, want tensor %q: %v", (*want).File, (*want).Tensor, tensor, err)
		}
	case **ckpt.UnsupportedError:
		if !errors.As(err, want) {
			t.Fatalf("error %T (%v), want an UnsupportedError", err, err)
		}
		if (*want).Tensor != tensor || (*want).File != "bad.pt" {
			t.Fatalf("UnsupportedError names file %q tensor %q, want tensor %q: %v", (*want).File, (*want).Tensor, tensor, err)
		}
	}
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %q does not contain %q", err, substr)
	}
}

func one(s synth) []byte { return statePickle([]synth{s}, false) }

var w8 = synth{name: "w", class: "FloatStorage", key: "0", numel: 8, shape: []int{2, 4}, stride: []int{4, 1}}

func TestHostile(t *testing.T) {
	fe, ue := new(*ckpt.FormatError), new(*ckpt.UnsupportedError)
	with := func(f func(*synth)) synth { s := w8; f(&s); return s }
	zipOf := func(records map[string][]byte) []byte { return zipFile(t, "archive", records, zip.Store) }

	t.Run("garbage data.pkl", func(t *testing.T) {
		expectError(t, zipOf(map[string][]byte{"data.pkl": []byte("\x80\x02\xff garbage"), "data/0": storage6}),
			fe, "", "data.pkl")
	})
	t.Run("empty data.pkl", func(t *testing.T) {
		expectError(t, zipOf(map[string][]byte{"data.pkl": nil}), fe, "", "before its STOP")
	})
	t.Run("missing storage record", func(t *testing.T) {
		expectError(t, zipOf(map[string][]byte{"data.pkl": one(w8)}), fe, "w", "archive/data/0")
	})
	t.Run("storage record too short", func(t *testing.T) {
		expectError(t, zipOf(map[string][]byte{"data.pkl": one(w8), "data/0": storage6[:12]}), fe, "w", "needs 32")
	})
	t.Run("view past storage end", func(t *testing.T) {
		s := with(func(s *synth) { s.offset = 1 })
		expectError(t, zipOf(map[string][]byte{"data.pkl": one(s), "data/0": storage6}), fe, "w", "ends past its storage")
	})
	t.Run("stride past storage end", func(t *testing.T) {
		s := with(func(s *synth) { s.stride = []int{5, 1} })
		expectError(t, zipOf(map[string][]byte{"data.pkl": one(s), "data/0": storage6}), fe, "w", "ends past its storage")
	})
	t.Run("shape overflow", func(t *testing.T) {
		s := with(func(s *synth) { s.shape = []int{1 << 30, 1 << 30, 1 << 30}; s.stride = []int{0, 0, 0} })
		expectError(t, zipOf(map[string][]byte{"data.pkl": one(s), "data/0": storage6}), fe, "w", "too large")
	})
	t.Run("stride overflow", func(t *testing.T) {
		s := with(func(s *synth) { s.shape = []int{1 << 30, 1 << 30}; s.stride = []int{1 << 30, 1 << 30} })
		expectError(t, zipOf(map[string][]byte{"data.pkl": one(s), "data/0": storage6}), fe, "w", "")
	})
	t.Run("negative stride", func(t *testing.T) {
		s := with(func(s *synth) { s.stride = []int{-4, 1} })
		expectError(t, zipOf(map[string][]byte{"data.pkl": one(s), "data/0": storage6}), fe, "w", "negative")
	})
	t.Run("size and stride ranks differ", func(t *testing.T) {
		s := with(func(s *synth) { s.stride = []int{1} })
		expectError(t, zipOf(map[string][]byte{"data.pkl": one(s), "data/0": storage6}), fe, "w", "dimensions")
	})
	t.Run("complex storage", func(t *testing.T) {
		s := with(func(s *synth) { s.class = "ComplexFloatStorage" })
		expectError(t, zipOf(map[string][]byte{"data.pkl": one(s), "data/0": storage6}), ue, "w", "ComplexFloatStorage")
	})
	t.Run("complex dtype", func(t *testing.T) {
		s := with(func(s *synth) { s.dtype = "complex64" })
		expectError(t, zipOf(map[string][]byte{"data.pkl": one(s), "data/0": storage6}), ue, "w", "complex64")
	})
	t.Run("unknown storage class", func(t *testing.T) {
		s := with(func(s *synth) { s.class = "NotAStorage" })
		expectError(t, zipOf(map[string][]byte{"data.pkl": one(s), "data/0": storage6}), fe, "", "not a torch storage class")
	})
	t.Run("huge expansion", func(t *testing.T) {
		s := with(func(s *synth) { s.shape = []int{1 << 20, 1 << 10}; s.stride = []int{0, 0} })
		expectError(t, zipOf(map[string][]byte{"data.pkl": one(s), "data/0": storage6}), ue, "w", "expanded view")
	})
	t.Run("torchscript", func(t *testing.T) {
		expectError(t, zipOf(map[string][]byte{"data.pkl": one(w8), "data/0": storage6, "constants.pkl": []byte("\x80\x02).")}),
			ue, "", "TorchScript")
	})
	t.Run("zip without data.pkl", func(t *testing.T) {
		expectError(t, zipOf(map[string][]byte{"version": []byte("3")}), fe, "", "no data.pkl")
	})
	t.Run("not a torch file", func(t *testing.T) {
		expectError(t, []byte("hello, world"), fe, "", "not a torch.save file")
	})
	t.Run("plain pickle", func(t *testing.T) {
		expectError(t, one(w8), fe, "", "not a torch.save file")
	})
	t.Run("legacy storage missing from key list", func(t *testing.T) {
		b := legacyFile(statePickle([]synth{w8}, true), nil, nil, nil)
		expectError(t, b, fe, "w", "no data")
	})
	t.Run("legacy key list names an unused storage", func(t *testing.T) {
		b := legacyFile(statePickle([]synth{w8}, true), []string{"0", "9"},
			map[string][]byte{"0": storage6, "9": storage6}, map[string]int{"0": 4, "9": 4})
		expectError(t, b, fe, "", `"9" is not used`)
	})
	t.Run("legacy data past end of file", func(t *testing.T) {
		b := legacyFile(statePickle([]synth{w8}, true), []string{"0"}, map[string][]byte{"0": storage6}, map[string]int{"0": 4})
		expectError(t, b[:len(b)-1], fe, "", "past the end of the file")
	})
	t.Run("legacy wrong magic", func(t *testing.T) {
		b := legacyFile(statePickle([]synth{w8}, true), []string{"0"}, map[string][]byte{"0": storage6}, map[string]int{"0": 4})
		b[13] ^= 1 // inside the magic number, past the bytes Sniff looks at
		expectError(t, b, fe, "", "")
	})
	t.Run("quantized tensor", func(t *testing.T) {
		var p pk
		p.op(0x80, 2, '}').str("q").global("torch._utils", "_rebuild_qtensor").op('(').int(1).op('t', 'R', 's', '.')
		expectError(t, zipOf(map[string][]byte{"data.pkl": p.Bytes()}), ue, "q", "_rebuild_qtensor")
	})
	t.Run("inert object", func(t *testing.T) {
		var p pk
		p.op(0x80, 2).global("__main__", "Thing").op(')', 0x81, '}').str("x").int(1).op('s', 'b', '.')
		expectError(t, zipOf(map[string][]byte{"data.pkl": p.Bytes()}), ue, "", "__main__.Thing")
	})
	t.Run("npz", func(t *testing.T) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.Create("x.npy")
		w.Write([]byte("\x93NUMPY"))
		zw.Close()
		expectError(t, buf.Bytes(), fe, "", "no data.pkl")
	})
	t.Run("no tensors", func(t *testing.T) {
		expectError(t, zipOf(map[string][]byte{"data.pkl": []byte("\x80\x02K\x05.")}), ue, "", "no tensors")
	})
}

// TestHostilePickles feeds pickles built to exhaust memory or time; each must
// fail fast with a FormatError.
func TestHostilePickles(t *testing.T) {
	cases := map[string][]byte{
		// Length arguments far larger than the stream: gopickle would allocate them.
		"BINUNICODE 4 GiB":   []byte("\x80\x02X\xf0\xff\xff\xff."),
		"BINBYTES8 2^62":     []byte("\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x40."),
		"FRAME 2^62":         []byte("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x40."),
		"BYTEARRAY8 2^63-1":  []byte("\x80\x05\x96\xff\xff\xff\xff\xff\xff\xff\x7f."),
		"LONG4 huge":         []byte("\x80\x02\x8b\x00\x00\x00\x10."),
		"negative BINSTRING": []byte("\x80\x02T\xff\xff\xff\xff."),
		// gopickle panics on these; the panic becomes an error.
		"odd SETITEMS":      []byte("\x80\x02}(K\x01u."),
		"empty LONG1":       []byte("\x80\x02\x8a\x00."),
		"unhashable key":    []byte("\x80\x02\x8f(C\x01au."),
		"opcode 0xff":       []byte("\x80\x02\xff."),
		"BUILD on an int":   []byte("\x80\x02K\x01}b."),
		"stop on empty":     []byte("\x80\x02."),
		"unknown persid":    []byte("\x80\x02K\x01Q."),
		"text persid":       []byte("\x80\x02Pfoo\n."),
		"no STOP":           []byte("\x80\x02K\x01"),
		"OrderedDict(5)":    []byte("ccollections\nOrderedDict\n(K\x05tR."),
		"OrderedDict(bad)":  []byte("ccollections\nOrderedDict\n(]K\x05atR."),
		"set of bytes keys": []byte("\x80\x04\x8f(C\x01aC\x01b\x90."),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			b := zipFile(t, "archive", map[string][]byte{"data.pkl": data}, zip.Store)
			start := time.Now()
			_, err := Open(bytes.NewReader(b), int64(len(b)), "bad.pt")
			if err == nil {
				t.Fatal("no error")
			}
			checkTyped(t, err)
			if time.Since(start) > time.Second {
				t.Fatalf("took %v", time.Since(start))
			}
		})
	}
}

// TestSharingAndCycles checks the walk of the unpickled objects: a list that
// holds itself, exponential sharing, and deep nesting end quickly.
func TestSharingAndCycles(t *testing.T) {
	var cyc pk // L = []; L.append(L); {'l': L, 'w': tensor}
	cyc.op(0x80, 2, '}').str("l").op(']', 'q', 0, 'h', 0, 'a', 's').str("w")
	cyc.global("torch._utils", "_rebuild_tensor_v2").op('(', '(').str("storage").global("torch", "FloatStorage").
		str("0").str("cpu").int(8).op('t', 'Q').int(0).ints([]int{2}).ints([]int{1}).op(0x89, 'N', 't', 'R', 's', '.')
	b := zipFile(t, "archive", map[string][]byte{"data.pkl": cyc.Bytes(), "data/0": storage6}, zip.Store)
	src := openBytes(t, b)
	if n := len(src.Tensors()); n != 1 {
		t.Fatalf("%d tensors", n)
	}

	var exp pk // L0 = [tensor]; L(i+1) = [Li, Li]; 60 levels
	exp.op(0x80, 2, ']')
	exp.global("torch._utils", "_rebuild_tensor_v2").op('(', '(').str("storage").global("torch", "FloatStorage").
		str("0").str("cpu").int(8).op('t', 'Q').int(0).ints([]int{2}).ints([]int{1}).op(0x89, 'N', 't', 'R', 'a')
	for i := 0; i < 60; i++ {
		exp.op('q', 0, ']', 'h', 0, 'a', 'h', 0, 'a')
	}
	exp.op('.')
	b = zipFile(t, "archive", map[string][]byte{"data.pkl": exp.Bytes(), "data/0": storage6}, zip.Store)
	start := time.Now()
	_, err := Open(bytes.NewReader(b), int64(len(b)), "bad.pt")
	if err == nil || time.Since(start) > time.Second {
		t.Fatalf("exponential sharing: err %v after %v", err, time.Since(start))
	}
	checkTyped(t, err)

	var deep pk
	deep.op(0x80, 2)
	for i := 0; i < 200; i++ {
		deep.op(']')
	}
	for i := 0; i < 199; i++ {
		deep.op('a')
	}
	deep.op('.')
	b = zipFile(t, "archive", map[string][]byte{"data.pkl": deep.Bytes()}, zip.Store)
	_, err = Open(bytes.NewReader(b), int64(len(b)), "bad.pt")
	if err == nil {
		t.Fatal("deep nesting: no error")
	}
	checkTyped(t, err)
}

func TestNotFound(t *testing.T) {
	src := openBytes(t, zipFile(t, "archive", map[string][]byte{"data.pkl": one(w8), "data/0": storage6}, zip.Store))
	_, err := src.Tensor("nope")
	var nf *ckpt.NotFoundError
	if !errors.As(err, &nf) || nf.Tensor != "nope" || nf.File != "test.pt" {
		t.Fatalf("err = %v", err)
	}
}
