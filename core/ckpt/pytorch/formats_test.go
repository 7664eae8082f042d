package pytorch

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

// A 2x3 matrix [[0,1,2],[3,4,5]] stored as its transpose's storage, and views.
var (
	storage6 = f32s(0, 1, 2, 3, 4, 5, 6, 7)
	views    = []synth{
		{name: "plain", class: "FloatStorage", key: "0", numel: 8, shape: []int{2, 3}, stride: []int{3, 1}},
		{name: "offset", class: "FloatStorage", key: "0", numel: 8, offset: 2, shape: []int{3}, stride: []int{1}},
		{name: "transposed", class: "FloatStorage", key: "0", numel: 8, shape: []int{3, 2}, stride: []int{1, 3}},
		{name: "strided", class: "FloatStorage", key: "0", numel: 8, offset: 1, shape: []int{2, 2}, stride: []int{4, 2}},
		{name: "expanded", class: "FloatStorage", key: "0", numel: 8, offset: 7, shape: []int{2, 3}, stride: []int{0, 0}},
		{name: "scalar", class: "FloatStorage", key: "0", numel: 8, offset: 5, shape: []int{}, stride: []int{}},
		{name: "empty", class: "FloatStorage", key: "0", numel: 8, offset: 0, shape: []int{0, 4}, stride: []int{4, 1}},
		{name: "size1dims", class: "FloatStorage", key: "0", numel: 8, offset: 3, shape: []int{1, 3, 1}, stride: []int{99, 1, 42}},
	}
	viewValues = map[string][]float32{
		"plain":      {0, 1, 2, 3, 4, 5},
		"offset":     {2, 3, 4},
		"transposed": {0, 3, 1, 4, 2, 5},
		"strided":    {1, 3, 5, 7},
		"expanded":   {7, 7, 7, 7, 7, 7},
		"scalar":     {5},
		"empty":      {},
		"size1dims":  {3, 4, 5},
	}
)

func checkViews(t *testing.T, src ckpt.Source) {
	t.Helper()
	if len(src.Tensors()) != len(views) {
		t.Fatalf("%d tensors, want %d", len(src.Tensors()), len(views))
	}
	for i, v := range views {
		in := src.Tensors()[i]
		if in.Name != v.name || in.DType != dtype.F32 || len(in.Shape) != len(v.shape) {
			t.Fatalf("tensor %d is %s %s %v", i, in.Name, in.DType, in.Shape)
		}
		got := readTensor(t, src, v.name)
		want := f32s(viewValues[v.name]...)
		if !bytes.Equal(got, want) {
			t.Errorf("%s = %x, want %x", v.name, got, want)
		}
	}
}

func TestZipViews(t *testing.T) {
	for _, method := range []uint16{zip.Store, zip.Deflate} {
		b := zipFile(t, "any-folder-name", map[string][]byte{
			"data.pkl": statePickle(views, false), "data/0": storage6, "version": []byte("3\n"),
		}, method)
		if !Sniff(b[:min(len(b), 512)], int64(len(b))) {
			t.Fatal("Sniff does not claim a torch zip")
		}
		checkViews(t, openBytes(t, b))
	}
}

func TestLegacyViews(t *testing.T) {
	b := legacyFile(statePickle(views, true), []string{"0"}, map[string][]byte{"0": storage6}, map[string]int{"0": 4})
	if !Sniff(b[:min(len(b), 512)], int64(len(b))) {
		t.Fatal("Sniff does not claim a legacy file")
	}
	checkViews(t, openBytes(t, b))
}

// TestLegacyStorageView reads the view_metadata of torch < 0.4 files: a
// tensor over a slice (offset 2, 4 elements) of a storage.
func TestLegacyStorageView(t *testing.T) {
	tensors := []synth{
		{name: "whole", class: "FloatStorage", key: "0", numel: 8, shape: []int{8}, stride: []int{1}},
		{name: "slice", class: "FloatStorage", key: "0", numel: 8, offset: 1, shape: []int{3}, stride: []int{1}, legacyView: []int{2, 4}},
	}
	b := legacyFile(statePickle(tensors, true), []string{"0"}, map[string][]byte{"0": storage6}, map[string]int{"0": 4})
	src := openBytes(t, b)
	if got := readTensor(t, src, "slice"); !bytes.Equal(got, f32s(3, 4, 5)) {
		t.Errorf("slice = %x", got)
	}
	// A view that leaves its slice is refused even though the storage is longer.
	tensors[1].shape = []int{4}
	b = legacyFile(statePickle(tensors, true), []string{"0"}, map[string][]byte{"0": storage6}, map[string]int{"0": 4})
	_, err := Open(bytes.NewReader(b), int64(len(b)), "x.pt")
	checkTyped(t, err)
}

func TestDTypes(t *testing.T) {
	cases := []struct {
		class string
		dt    dtype.DType
	}{
		{"FloatStorage", dtype.F32}, {"DoubleStorage", dtype.F64}, {"HalfStorage", dtype.F16},
		{"BFloat16Storage", dtype.BF16}, {"LongStorage", dtype.I64}, {"IntStorage", dtype.I32},
		{"ShortStorage", dtype.I16}, {"CharStorage", dtype.I8}, {"ByteStorage", dtype.U8},
		{"BoolStorage", dtype.BOOL},
	}
	var tensors []synth
	records := map[string][]byte{}
	for i, c := range cases {
		key := string(rune('a' + i))
		tensors = append(tensors, synth{name: c.class, class: c.class, key: key, numel: 2, shape: []int{2}, stride: []int{1}})
		data := make([]byte, 2*c.dt.Size())
		for j := range data {
			data[j] = byte(i + j)
		}
		records["data/"+key] = data
	}
	// torch >= 2 writes tensors of newer dtypes over an UntypedStorage with
	// _rebuild_tensor_v3; the storage size is then in bytes.
	tensors = append(tensors,
		synth{name: "u16", class: "UntypedStorage", key: "u", numel: 6, offset: 1, shape: []int{2}, stride: []int{1}, dtype: "uint16"},
		synth{name: "f32v3", class: "FloatStorage", key: "a", numel: 2, shape: []int{2}, stride: []int{1}, dtype: "float32"})
	records["data/u"] = []byte{1, 2, 3, 4, 5, 6}
	records["data.pkl"] = statePickle(tensors, false)
	src := openBytes(t, zipFile(t, "archive", records, zip.Store))
	for i, c := range cases {
		in := src.Tensors()[i]
		if in.Name != c.class || in.DType != c.dt {
			t.Errorf("%s is %s, want %s", in.Name, in.DType, c.dt)
		}
		if got := readTensor(t, src, c.class); !bytes.Equal(got, records["data/"+string(rune('a'+i))]) {
			t.Errorf("%s data = %x", c.class, got)
		}
	}
	if in, _ := ckpt.Lookup(src, "u16"); in.DType != dtype.U16 {
		t.Errorf("u16 is %s", in.DType)
	}
	if got := readTensor(t, src, "u16"); !bytes.Equal(got, []byte{3, 4, 5, 6}) {
		t.Errorf("u16 data = %x (storage offset counts uint16 elements)", got)
	}
}

func TestBigEndian(t *testing.T) {
	tensors := []synth{
		{name: "c", class: "IntStorage", key: "0", numel: 3, shape: []int{3}, stride: []int{1}},
		{name: "rev", class: "IntStorage", key: "0", numel: 3, offset: 0, shape: []int{2}, stride: []int{2}},
	}
	be := []byte{0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}
	b := zipFile(t, "archive", map[string][]byte{
		"data.pkl": statePickle(tensors, false), "data/0": be, "byteorder": []byte("big"),
	}, zip.Store)
	src := openBytes(t, b)
	want := []byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0}
	if got := readTensor(t, src, "c"); !bytes.Equal(got, want) {
		t.Errorf("c = %x", got)
	}
	if got := readTensor(t, src, "rev"); !bytes.Equal(got, []byte{1, 0, 0, 0, 3, 0, 0, 0}) {
		t.Errorf("rev = %x", got)
	}
}

// TestTarTorchLayout reads a tar written the way torch < 0.1.10 wrote it: a
// tensors member, a storage view, and persistent ids naming tensor keys.
func TestTarTorchLayout(t *testing.T) {
	var storages bytes.Buffer
	storages.Write([]byte{0x80, 2, 'K', 1, '.'})
	var hdr pk
	hdr.op(0x80, 2, '(').int(1000).str("cpu").global("torch", "FloatStorage").op('t', '.')
	storages.Write(hdr.Bytes())
	binary.Write(&storages, binary.LittleEndian, uint64(8))
	storages.Write(storage6)
	var vl pk // [(3000, 1000, 2, 4)]
	vl.op(0x80, 2, ']', '(').int(3000).int(1000).int(2).int(4).op('t', 'a', '.')
	storages.Write(vl.Bytes())

	var tensors bytes.Buffer
	tensors.Write([]byte{0x80, 2, 'K', 2, '.'})
	entry := func(key, stKey int, shape, stride []int64, off int64) {
		var h pk
		h.op(0x80, 2, '(').int(key).int(stKey).global("torch", "FloatTensor").op('t', '.')
		tensors.Write(h.Bytes())
		binary.Write(&tensors, binary.LittleEndian, int32(len(shape)))
		tensors.Write([]byte{0, 0, 0, 0})
		binary.Write(&tensors, binary.LittleEndian, shape)
		binary.Write(&tensors, binary.LittleEndian, stride)
		binary.Write(&tensors, binary.LittleEndian, off)
	}
	entry(2000, 1000, []int64{3, 2}, []int64{1, 3}, 0)
	entry(2001, 3000, []int64{2, 2}, []int64{2, 1}, 0)

	var main pk // {'w': persistent '2000', 'v': persistent '2001'}
	main.op(0x80, 2, '}').str("w").str("2000").op('Q', 's').str("v").str("2001").op('Q', 's', '.')

	var si pk
	si.op(0x80, 2, '}').str("little_endian").op(0x88, 's', '.')
	b := tarFile(t, [][2]string{
		{"sys_info", si.String()}, {"pickle", main.String()}, {"tensors", tensors.String()}, {"storages", storages.String()},
	})
	if !Sniff(b[:512], int64(len(b))) {
		t.Fatal("Sniff does not claim a torch tar")
	}
	src := openBytes(t, b)
	if got := readTensor(t, src, "w"); !bytes.Equal(got, f32s(0, 3, 1, 4, 2, 5)) {
		t.Errorf("w = %x", got)
	}
	if got := readTensor(t, src, "v"); !bytes.Equal(got, f32s(2, 3, 4, 5)) {
		t.Errorf("v = %x", got)
	}
}

// TestNesting covers the ways a state dict is found: nested dicts flattened
// with dots, the checkpoint keys, and lists.
func TestNesting(t *testing.T) {
	tensor := func(p *pk) {
		p.global("torch._utils", "_rebuild_tensor_v2").op('(', '(').str("storage").global("torch", "FloatStorage").
			str("0").str("cpu").int(8).op('t', 'Q').int(0).ints([]int{2}).ints([]int{1}).op(0x89, 'N', 't', 'R')
	}
	cases := []struct {
		name  string
		build func(p *pk)
		want  []string
	}{
		{"nested dicts", func(p *pk) {
			p.op('}').str("enc").op('}').str("w")
			tensor(p)
			p.op('s', 's').str("head").op('}').str("0").op('}').str("b")
			tensor(p)
			p.op('s', 's', 's')
		}, []string{"enc.w", "head.0.b"}},
		{"state_dict key", func(p *pk) {
			p.op('}').str("epoch").int(3).op('s').str("state_dict").op('}').str("w")
			tensor(p)
			p.op('s', 's').str("optimizer").op('}').str("m")
			tensor(p)
			p.op('s', 's')
		}, []string{"w"}},
		{"top-level tensors win over checkpoint keys", func(p *pk) {
			p.op('}').str("model").op('}').str("w")
			tensor(p)
			p.op('s', 's').str("x")
			tensor(p)
			p.op('s')
		}, []string{"model.w", "x"}},
		{"list", func(p *pk) {
			p.op(']')
			tensor(p)
			p.op('a')
			tensor(p)
			p.op('a')
		}, []string{"0", "1"}},
		{"repeated dict key keeps first place, last value", func(p *pk) {
			p.op('}', '(').str("a").int(1).str("b")
			tensor(p)
			p.str("a")
			tensor(p)
			p.op('u')
		}, []string{"a", "b"}},
		{"int keys", func(p *pk) {
			p.op('}').int(7)
			tensor(p)
			p.op('s')
		}, []string{"7"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p pk
			p.op(0x80, 2)
			c.build(&p)
			p.op('.')
			b := zipFile(t, "archive", map[string][]byte{"data.pkl": p.Bytes(), "data/0": storage6}, zip.Store)
			src := openBytes(t, b)
			var got []string
			for _, in := range src.Tensors() {
				got = append(got, in.Name)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("names = %v, want %v", got, c.want)
			}
		})
	}
}

// TestModuleNonPersistentBuffer checks that a whole module's buffers listed
// in _non_persistent_buffers_set are left out, as state_dict does.
func TestModuleNonPersistentBuffer(t *testing.T) {
	var p pk
	tensor := func() {
		p.global("torch._utils", "_rebuild_tensor_v2").op('(', '(').str("storage").global("torch", "FloatStorage").
			str("0").str("cpu").int(8).op('t', 'Q').int(0).ints([]int{2}).ints([]int{1}).op(0x89, 'N', 't', 'R')
	}
	p.op(0x80, 2).global("__main__", "Net").op(')', 0x81, '}')
	p.str("_parameters").global("collections", "OrderedDict").op(')', 'R').str("w")
	p.global("torch._utils", "_rebuild_parameter")
	p.op('(')
	tensor()
	p.op(0x88, 'N', 't', 'R', 's', 's')
	p.str("_buffers").op('}').str("keep")
	tensor()
	p.op('s').str("skip")
	tensor()
	p.op('s').str("none").op('N', 's', 's')
	p.str("_non_persistent_buffers_set").global("__builtin__", "set").op(']').str("skip").op('a', 0x85, 'R', 's')
	p.str("_modules").op('}', 's', 'b', '.')
	b := zipFile(t, "archive", map[string][]byte{"data.pkl": p.Bytes(), "data/0": storage6}, zip.Store)
	src := openBytes(t, b)
	var got []string
	for _, in := range src.Tensors() {
		got = append(got, in.Name)
	}
	if !reflect.DeepEqual(got, []string{"w", "keep"}) {
		t.Fatalf("names = %v", got)
	}
}
