package pytorch

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Builders for the hostile files of issue 12: small files whose pickles name
// far more than they hold. The tests build them at the sizes the issue
// reports; TestWriteCraftedFiles writes them out for measuring the ladle
// command on them.

// tensor pushes _rebuild_tensor_v2 over the F32 storage key (numel elements).
func (p *pk) tensor(key string, numel, offset int, shape, stride []int) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2").op('(', '(').str("storage").global("torch", "FloatStorage").
		str(key).str("cpu").int(numel).op('t', 'Q').int(offset).ints(shape).ints(stride).op(0x89)
	return p.global("collections", "OrderedDict").op(')', 'R', 't', 'R')
}

// sharedRefs pickles lists nested levels deep, each holding fanout references
// to the list below; the innermost holds fanout references to one 2x2 tensor
// (tensorLeaves) or to the integer 1. The tensor version is {"x": L}: it names
// fanout^levels tensors. The integer version is {"w": tensor, "x": L}: one
// tensor, and fanout^levels integers to walk past. pad adds a string of that
// many bytes (a larger pickle once bought a larger walking budget).
func sharedRefs(levels, fanout int, tensorLeaves bool, pad int) []byte {
	var p pk
	p.op(0x80, 2)
	if tensorLeaves {
		p.tensor("0", 4, 0, []int{2, 2}, []int{2, 1})
	} else {
		p.op('K', 1)
	}
	p.op('q', 0, '0')
	for l := 1; l <= levels; l++ {
		p.op(']', '(')
		for range fanout {
			p.op('h', byte(l-1))
		}
		p.op('e', 'q', byte(l), '0')
	}
	p.op('}')
	if !tensorLeaves {
		p.str("w").tensor("0", 4, 0, []int{2, 2}, []int{2, 1}).op('s')
	}
	if pad > 0 {
		p.str("pad").str(bigString(pad)).op('s')
	}
	p.str("x").op('h', byte(levels), 's', '.')
	return p.Bytes()
}

// zipRecord is one record of a hand-built zip: data stored or deflated, or a
// raw deflate stream (raw) with the sizes and checksum of what it inflates to.
type zipRecord struct {
	name   string
	data   []byte
	method uint16
	raw    *deflated
}

// deflated is a raw deflate stream and what it inflates to.
type deflated struct {
	comp []byte
	crc  uint32
	size int64
}

// zipRecords builds a torch zip archive under folder "archive" with the
// records in order.
func zipRecords(t testing.TB, records ...zipRecord) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, r := range records {
		name := "archive/" + r.name
		if r.raw != nil {
			w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CRC32: r.raw.crc,
				CompressedSize64: uint64(len(r.raw.comp)), UncompressedSize64: uint64(r.raw.size)})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(r.raw.comp)
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: r.method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(r.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// deflateRepeat builds a raw deflate stream that inflates to prefix, then
// chunk repeated times, then suffix, compressing each part once: a segment
// compressed by a fresh writer and flushed refers only to its own bytes, so
// copies of it can follow each other. This makes a stream inflating to
// hundreds of MiB in milliseconds.
func deflateRepeat(prefix, chunk []byte, times int, suffix []byte) *deflated {
	segment := func(b []byte) []byte {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestCompression)
		w.Write(b)
		w.Flush()
		return buf.Bytes()
	}
	var out bytes.Buffer
	crc := crc32.Update(0, crc32.IEEETable, prefix)
	out.Write(segment(prefix))
	seg := segment(chunk)
	for range times {
		out.Write(seg)
		crc = crc32.Update(crc, crc32.IEEETable, chunk)
	}
	out.Write(segment(suffix))
	crc = crc32.Update(crc, crc32.IEEETable, suffix)
	out.Write([]byte{1, 0, 0, 0xff, 0xff}) // a final, empty stored block
	return &deflated{comp: out.Bytes(), crc: crc, size: int64(len(prefix) + len(chunk)*times + len(suffix))}
}

// floodPickle is a deflated data.pkl: the protocol header and an empty list
// (for floods that append to it), then op repeated to about n bytes, then STOP.
func floodPickle(t testing.TB, op string, n int) []byte {
	chunk := []byte(strings.Repeat(op, (64<<10)/len(op)))
	return zipRecords(t, zipRecord{name: "data.pkl", raw: deflateRepeat([]byte("\x80\x02]"), chunk, max(1, n/len(chunk)), []byte("."))})
}

// bigString is n bytes of text, for pickles whose errors once printed it.
func bigString(n int) string { return strings.Repeat("a", n) }

// callPickles are pickles whose REDUCE, NEWOBJ or BUILD cannot be done, each
// holding a string of n bytes (2 MB in the issue) that gopickle's error
// messages used to print whole.
func callPickles(n int) map[string][]byte {
	s := bigString(n)
	out := map[string][]byte{}
	var p pk // REDUCE on an instance of __main__.Foo built from the string
	p.op(0x80, 2).global("__main__", "Foo").op('(').str(s).op('t', 'R', ')', 'R', '.')
	out["reduce on an instance"] = p.Bytes()
	p = pk{} // REDUCE on the string itself
	p.op(0x80, 2).str(s).op(')', 'R', '.')
	out["reduce on a string"] = p.Bytes()
	p = pk{} // NEWOBJ on a list holding the string
	p.op(0x80, 2, ']').str(s).op('a', ')', 0x81, '.')
	out["newobj on a list"] = p.Bytes()
	p = pk{} // BUILD on a list holding the string
	p.op(0x80, 2, ']').str(s).op('a', '}', 'b', '.')
	out["build on a list"] = p.Bytes()
	p = pk{} // REDUCE on a storage class, with the string as argument
	p.op(0x80, 2).global("torch", "FloatStorage").op('(').str(s).op('t', 'R', '.')
	out["reduce on a storage class"] = p.Bytes()
	return out
}

// viewsFile is a zip whose storage "0" is deflated and holds n views of per
// float32 elements each, listed in storage order (or reversed); every element
// of view i is viewValue(i), so the storage compresses well and a view read
// from the wrong place shows.
func viewsFile(t testing.TB, n, per int, reversed bool) []byte {
	var p pk
	p.op(0x80, 2).global("collections", "OrderedDict").op(')', 'R')
	for k := range n {
		i := k
		if reversed {
			i = n - 1 - k
		}
		p.str(viewName(i)).tensor("0", n*per, i*per, []int{per}, []int{1}).op('s')
	}
	p.op('.')
	var comp bytes.Buffer
	w, _ := flate.NewWriter(&comp, flate.BestSpeed)
	crc := crc32.NewIEEE()
	view := make([]byte, 4*per)
	for i := range n {
		bits := math.Float32bits(viewValue(i))
		for j := 0; j < per; j++ {
			binary.LittleEndian.PutUint32(view[4*j:], bits)
		}
		w.Write(view)
		crc.Write(view)
	}
	w.Close()
	data := &deflated{comp: comp.Bytes(), crc: crc.Sum32(), size: int64(4 * n * per)}
	return zipRecords(t, zipRecord{name: "data.pkl", data: p.Bytes()}, zipRecord{name: "data/0", raw: data})
}

func viewName(i int) string   { return fmt.Sprintf("t%05d", i) }
func viewValue(i int) float32 { return float32(i%4093) + 0.5 }

// sharedState pickles one dict of entries items, then builds n objects from
// it: BUILD copies the state into each object's attributes, so the pickle's
// two bytes per reference cost entries copies each.
func sharedState(entries, n int) []byte {
	var p pk
	p.op(0x80, 2, '}', '(')
	for i := range entries {
		p.int(i).op('N')
	}
	p.op('u', 'q', 0).global("__main__", "Thing").op('q', 1, '0', '0', ']')
	for range n {
		p.op('h', 1, ')', 0x81, 'h', 0, 'b', 'a')
	}
	return p.op('.').Bytes()
}

// memoFlood stores n distinct memo entries, all None.
func memoFlood(n int) []byte {
	var p pk
	p.op(0x80, 2, 'N')
	for i := range n {
		p.op('r')
		binary.Write(&p.Buffer, binary.LittleEndian, uint32(i))
	}
	return p.op('.').Bytes()
}

// torchLikePickle pickles an OrderedDict of n tensors the way torch.save
// does: protocol 2, every string, tuple and dict memoised, repeated strings
// and globals fetched from the memo, items set in batches of 1,000.
func torchLikePickle(n int) []byte {
	var p pk
	next, memo := 0, map[string]int{}
	put := func() {
		if next < 256 {
			p.op('q', byte(next))
		} else {
			p.op('r')
			binary.Write(&p.Buffer, binary.LittleEndian, uint32(next))
		}
		next++
	}
	cached := func(key string, emit func()) {
		if i, ok := memo[key]; ok {
			if i < 256 {
				p.op('h', byte(i))
			} else {
				p.op('j')
				binary.Write(&p.Buffer, binary.LittleEndian, uint32(i))
			}
			return
		}
		emit()
		memo[key] = next
		put()
	}
	odict := func() { p.global("collections", "OrderedDict") }
	p.op(0x80, 2)
	cached("OrderedDict", odict)
	p.op(')', 'R')
	put()
	p.op('(')
	for i := range n {
		if i > 0 && i%1000 == 0 {
			p.op('u', '(')
		}
		p.str(fmt.Sprintf("model.layers.%d.self_attn.q_proj.weight", i))
		put()
		cached("rebuild", func() { p.global("torch._utils", "_rebuild_tensor_v2") })
		p.op('(', '(')
		cached("storage", func() { p.str("storage") })
		cached("FloatStorage", func() { p.global("torch", "FloatStorage") })
		p.str(fmt.Sprint(i))
		put()
		cached("cpu", func() { p.str("cpu") })
		p.op('K', 4, 't')
		put()
		p.op('Q', 'K', 0, 'K', 2, 'K', 2, 0x86)
		put()
		p.op('K', 2, 'K', 1, 0x86)
		put()
		p.op(0x89)
		cached("OrderedDict", odict)
		p.op(')', 'R')
		put()
		p.op('t')
		put()
		p.op('R')
		put()
	}
	return p.op('u', '.').Bytes()
}

// craftedFiles are the hostile files at the sizes issue 12 reports.
func craftedFiles(t testing.TB) map[string][]byte {
	files := map[string][]byte{
		"refs-3x1000-tensor.pt": zipRecords(t, zipRecord{name: "data.pkl", data: sharedRefs(3, 1000, true, 0)}, zipRecord{name: "data/0", data: f32s(1, 2, 3, 4)}),
		"refs-2x1000-tensor.pt": zipRecords(t, zipRecord{name: "data.pkl", data: sharedRefs(2, 1000, true, 0)}, zipRecord{name: "data/0", data: f32s(1, 2, 3, 4)}),
		"refs-3x1000-int.pt":    zipRecords(t, zipRecord{name: "data.pkl", data: sharedRefs(3, 1000, false, 480<<10)}, zipRecord{name: "data/0", data: f32s(1, 2, 3, 4)}),
		"mark-flood-16k.pt":     floodPickle(t, "(", 16<<20),
		"mark-flood-64k.pt":     floodPickle(t, "(", 64<<20),
		"list-flood-16k.pt":     floodPickle(t, "]", 16<<20),
		"pickle-300mib.pt":      floodPickle(t, "N0", 300<<20),
		"views-2000.pt":         viewsFile(t, 2000, 2048, false),
		"views-8000-256mib.pt":  viewsFile(t, 8000, 8192, false),
	}
	for name, pkl := range callPickles(2 << 20) {
		files[strings.ReplaceAll(name, " ", "-")+".pt"] = zipRecords(t, zipRecord{name: "data.pkl", data: pkl})
	}
	return files
}

// TestWriteCraftedFiles writes the crafted files to $LADLE_CRAFTED_DIR, for
// measuring `ladle inspect` and `ladle convert` on them.
func TestWriteCraftedFiles(t *testing.T) {
	dir := os.Getenv("LADLE_CRAFTED_DIR")
	if dir == "" {
		t.Skip("set LADLE_CRAFTED_DIR to a folder to write the crafted hostile files there")
	}
	for name, b := range craftedFiles(t) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", name, len(b))
	}
}
