package eval

import (
	"bytes"
	"strings"
	"testing"

	"ladle/core/ckpt"
)

// FuzzImportIDX: no pair of files makes the importer panic, and what it accepts is
// a consistent dataset.
func FuzzImportIDX(f *testing.F) {
	f.Add(idxBytes([]int{2, 2, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8}), idxBytes([]int{2}, []byte{1, 0}))
	f.Add(gz(idxBytes([]int{1, 3}, []byte{9, 9, 9})), gz(idxBytes([]int{1}, []byte{4})))
	f.Add([]byte{0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3f, 0x80, 0, 0}, []byte{0, 0, 0x0C, 1, 0, 0, 0, 1, 0, 0, 0, 2})
	f.Fuzz(func(t *testing.T, images, labels []byte) {
		d, err := ImportIDX(bytes.NewReader(images), bytes.NewReader(labels))
		if err != nil {
			return
		}
		if err := d.check(); err != nil || d.Len() == 0 {
			t.Fatalf("accepted an inconsistent dataset: %v", err)
		}
	})
}

// FuzzImportCSV: no table makes the importer panic.
func FuzzImportCSV(f *testing.F) {
	f.Add("a,b,label\n1,2,x\n3,4,y\n", 2)
	f.Add("0,1.5,2\n1,-3,4e2\n", 0)
	f.Add("\"1\",\"2\"\n", -1)
	f.Fuzz(func(t *testing.T, table string, col int) {
		d, err := ImportCSV(strings.NewReader(table), col)
		if err != nil {
			return
		}
		if err := d.check(); err != nil || d.Len() == 0 {
			t.Fatalf("accepted an inconsistent dataset: %v", err)
		}
	})
}

// FuzzDataset: no safetensors file makes FromSource panic; what it accepts is
// consistent and encodes back.
func FuzzDataset(f *testing.F) {
	var buf bytes.Buffer
	Encode(&buf, &Dataset{Shape: []int{2}, U8: []uint8{1, 2, 3, 4}, Labels: []int{0, 3}},
		&Dataset{Split: "val", Shape: []int{1}, F32: []float32{0.5}, Labels: []int{1}, Classes: []string{"a", "b"}})
	f.Add(buf.Bytes(), "")
	f.Add(buf.Bytes(), "val")
	f.Fuzz(func(t *testing.T, file []byte, split string) {
		src, err := ckpt.OpenReaderAt(bytes.NewReader(file), int64(len(file)), "fuzz.safetensors")
		if err != nil {
			return
		}
		Splits(src)
		d, err := FromSource(src, split)
		if err != nil {
			return
		}
		if err := d.check(); err != nil {
			t.Fatalf("accepted an inconsistent dataset: %v", err)
		}
		if err := Encode(&bytes.Buffer{}, d); err != nil {
			t.Fatalf("an accepted dataset does not encode: %v", err)
		}
	})
}
