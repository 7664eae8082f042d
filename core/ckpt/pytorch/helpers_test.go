package pytorch

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

// fixtures is the folder of third-party checkpoints beside the repository.
var fixtures = filepath.Join("..", "..", "..", "..", "shared", "fixtures")

// fixtureDir returns fixtures/sub, or skips the test when the fixtures are
// not there (a plain clone of the repository).
func fixtureDir(t testing.TB, sub string) string {
	t.Helper()
	dir := filepath.Join(fixtures, sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("third-party fixtures not found at %s (they sit beside the repository in CI): %v", dir, err)
	}
	return dir
}

func readFixture(t testing.TB, sub, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir(t, sub), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openBytes(t testing.TB, b []byte) ckpt.Source {
	t.Helper()
	src, err := Open(bytes.NewReader(b), int64(len(b)), "test.pt")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return src
}

func readTensor(t testing.TB, src ckpt.Source, name string) []byte {
	t.Helper()
	b, err := ckpt.ReadAll(src, name)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return b
}

// element decodes element i of little-endian data of type dt as a float64.
func element(t testing.TB, dt dtype.DType, data []byte, i int) float64 {
	t.Helper()
	n := dt.Size()
	if (i+1)*n > len(data) {
		t.Fatalf("element %d is past the %d bytes of data", i, len(data))
	}
	b := data[i*n : (i+1)*n]
	switch dt {
	case dtype.F32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case dtype.F64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	case dtype.BF16:
		return float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16))
	case dtype.F16:
		return halfToFloat(binary.LittleEndian.Uint16(b))
	case dtype.I64:
		return float64(int64(binary.LittleEndian.Uint64(b)))
	case dtype.I32:
		return float64(int32(binary.LittleEndian.Uint32(b)))
	case dtype.I16:
		return float64(int16(binary.LittleEndian.Uint16(b)))
	case dtype.I8:
		return float64(int8(b[0]))
	case dtype.U8, dtype.BOOL:
		return float64(b[0])
	}
	t.Fatalf("no decoder for %s", dt)
	return 0
}

// halfToFloat decodes an IEEE binary16 value (tests only; finite values).
func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	if exp == 0 {
		return sign * frac / 1024 * math.Pow(2, -14)
	}
	return sign * (1 + frac/1024) * math.Pow(2, float64(exp-15))
}

// checkTyped fails unless err is one of ckpt's error types.
func checkTyped(t testing.TB, err error) {
	t.Helper()
	var fe *ckpt.FormatError
	var ue *ckpt.UnsupportedError
	var ne *ckpt.NotFoundError
	if !errors.As(err, &fe) && !errors.As(err, &ue) && !errors.As(err, &ne) {
		t.Fatalf("error is %T, not a ckpt error: %v", err, err)
	}
	if strings.Contains(err.Error(), "internal error") {
		t.Fatalf("internal error: %v", err)
	}
}

// pk writes pickle opcodes by hand (protocol 2), for synthetic files.
type pk struct{ bytes.Buffer }

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }

func (p *pk) str(s string) *pk {
	p.WriteByte('X')
	binary.Write(&p.Buffer, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

func (p *pk) int(n int) *pk {
	p.WriteByte('J')
	binary.Write(&p.Buffer, binary.LittleEndian, int32(n))
	return p
}

func (p *pk) global(mod, name string) *pk {
	p.WriteString("c" + mod + "\n" + name + "\n")
	return p
}

func (p *pk) ints(v []int) *pk {
	p.op('(')
	for _, n := range v {
		p.int(n)
	}
	return p.op('t')
}

// synth describes one tensor of a synthetic file.
type synth struct {
	name, class, key string
	numel, offset    int
	shape, stride    []int
	dtype            string // set to use _rebuild_tensor_v3 with torch.<dtype>
	legacyView       []int  // (offset, size) view metadata, legacy files only
}

// statePickle pickles OrderedDict of the given tensors, as torch.save does.
// legacy selects the 6-item persistent id of the legacy format.
func statePickle(tensors []synth, legacy bool) []byte {
	var p pk
	p.op(0x80, 2).global("collections", "OrderedDict").op(')', 'R')
	for _, s := range tensors {
		p.str(s.name)
		if s.dtype != "" {
			p.global("torch._utils", "_rebuild_tensor_v3")
		} else {
			p.global("torch._utils", "_rebuild_tensor_v2")
		}
		p.op('(', '(').str("storage").global("torch", s.class).str(s.key).str("cpu").int(s.numel)
		if legacy {
			if s.legacyView != nil {
				p.op('(').str(s.key + "-view").int(s.legacyView[0]).int(s.legacyView[1]).op('t')
			} else {
				p.op('N')
			}
		}
		p.op('t', 'Q').int(s.offset).ints(s.shape).ints(s.stride).op(0x89)
		p.global("collections", "OrderedDict").op(')', 'R')
		if s.dtype != "" {
			p.global("torch", s.dtype)
		}
		p.op('t', 'R', 's')
	}
	return p.op('.').Bytes()
}

// zipFile builds a torch zip archive under folder with the given records.
func zipFile(t testing.TB, folder string, records map[string][]byte, method uint16) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(records))
	for n := range records {
		names = append(names, n)
	}
	// data.pkl first, as torch writes it.
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == "data.pkl") != (names[j] == "data.pkl") {
			return names[i] == "data.pkl"
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: folder + "/" + n, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(records[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// legacyFile builds a legacy (non-zip) torch file: magic, protocol, sys_info,
// the pickle, the storage keys, then each storage's count and data.
func legacyFile(pickle []byte, keys []string, data map[string][]byte, elemSize map[string]int) []byte {
	var out bytes.Buffer
	out.Write([]byte{0x80, 2})
	out.Write(legacyMagicLong1)
	out.WriteByte('.')
	out.Write([]byte{0x80, 2, 'M', 0xe9, 0x03, '.'}) // 1001
	var si pk
	si.op(0x80, 2, '}').str("little_endian").op(0x88, 's', '.')
	out.Write(si.Bytes())
	out.Write(pickle)
	var kp pk
	kp.op(0x80, 2, ']')
	for _, k := range keys {
		kp.str(k).op('a')
	}
	out.Write(kp.op('.').Bytes())
	for _, k := range keys {
		binary.Write(&out, binary.LittleEndian, uint64(len(data[k])/elemSize[k]))
		out.Write(data[k])
	}
	return out.Bytes()
}

// tarFile builds a tar archive with the given members in order.
func tarFile(t testing.TB, members [][2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Name: m[0], Mode: 0o644, Size: int64(len(m[1])), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(m[1]))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func f32s(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func i64s(v ...int64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}
