package eval

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// idxBytes encodes an IDX file of unsigned bytes (type 0x08).
func idxBytes(dims []int, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func TestImportIDXRoundTrip(t *testing.T) {
	pixels := make([]byte, 3*4*5)
	for i := range pixels {
		pixels[i] = byte(i * 7)
	}
	labels := []byte{9, 0, 4}
	for _, compress := range []bool{true, false} {
		im, lb := idxBytes([]int{3, 4, 5}, pixels), idxBytes([]int{3}, labels)
		if compress {
			im, lb = gz(im), gz(lb)
		}
		d, err := ImportIDX(bytes.NewReader(im), bytes.NewReader(lb))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d.Shape, []int{4, 5}) || !bytes.Equal(d.U8, pixels) || !reflect.DeepEqual(d.Labels, []int{9, 0, 4}) {
			t.Fatalf("imported %+v", d)
		}
		// Through a file and back.
		path := filepath.Join(t.TempDir(), "mnist.safetensors")
		if err := WriteFile(path, d); err != nil {
			t.Fatal(err)
		}
		back, err := LoadDataset(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.Shape, d.Shape) || !bytes.Equal(back.U8, d.U8) || !reflect.DeepEqual(back.Labels, d.Labels) {
			t.Fatalf("file round trip: %+v", back)
		}
	}
	// Other element types become F32: big-endian floats and shorts.
	var fl bytes.Buffer
	fl.Write([]byte{0, 0, 0x0D, 2, 0, 0, 0, 2, 0, 0, 0, 1})
	binary.Write(&fl, binary.BigEndian, []float32{1.5, -2})
	var sh bytes.Buffer
	sh.Write([]byte{0, 0, 0x0B, 1, 0, 0, 0, 2})
	binary.Write(&sh, binary.BigEndian, []int16{1, 300})
	d, err := ImportIDX(&fl, &sh)
	if err != nil || !reflect.DeepEqual(d.F32, []float32{1.5, -2}) || !reflect.DeepEqual(d.Labels, []int{1, 300}) {
		t.Errorf("float images, short labels: %+v %v", d, err)
	}
}

func TestImportIDXHostile(t *testing.T) {
	good := idxBytes([]int{2, 2, 2}, make([]byte, 8))
	labels := idxBytes([]int{2}, []byte{1, 2})
	huge := []byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1}
	cases := []struct {
		name     string
		im, lb   []byte
		want     string
		wantFrom string
	}{
		{"bad magic", []byte("PK\x03\x04xxxxxxxx"), labels, "not an IDX file", "images"},
		{"truncated data", good[:len(good)-3], labels, "truncated", "images"},
		{"truncated header", good[:6], labels, "truncated", "images"},
		{"huge dims", huge, labels, "declare more than", "images"},
		{"trailing", append(append([]byte(nil), good...), 1, 2), labels, "more data than", "images"},
		{"count mismatch", good, idxBytes([]int{3}, []byte{1, 2, 3}), "2 images but the labels file 3 labels", ""},
		{"2-d labels", good, idxBytes([]int{2, 1}, []byte{1, 2}), "one dimension", "labels"},
		{"bad gzip", []byte{0x1f, 0x8b, 1, 2, 3}, labels, "gzip", "images"},
		{"empty", idxBytes([]int{0, 2}, nil), idxBytes([]int{0}, nil), "no items", "images"},
	}
	for _, c := range cases {
		_, err := ImportIDX(bytes.NewReader(c.im), bytes.NewReader(c.lb))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), c.wantFrom) {
			t.Errorf("%s: error %v, want %q from %s", c.name, err, c.want, c.wantFrom)
		}
	}
	// A huge claim in a tiny gzip stream fails without allocating the claim.
	if _, err := ImportIDX(bytes.NewReader(gz([]byte{0, 0, 8, 2, 0, 1, 0, 0, 0, 0, 0x10, 0})), bytes.NewReader(labels)); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("huge gzip claim: %v", err)
	}
}

func TestImportCSV(t *testing.T) {
	in := "sepal_length,sepal_width,species\n5.1, 3.5,setosa\n7.0,3.2,versicolor\n6.3,3.3,virginica\n4.9,3.0,setosa\n"
	d, err := ImportCSV(strings.NewReader(in), -1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Shape, []int{2}) || !reflect.DeepEqual(d.F32, []float32{5.1, 3.5, 7, 3.2, 6.3, 3.3, 4.9, 3}) ||
		!reflect.DeepEqual(d.Labels, []int{0, 1, 2, 0}) || !reflect.DeepEqual(d.Classes, []string{"setosa", "versicolor", "virginica"}) {
		t.Fatalf("iris: %+v", d)
	}
	// Numeric labels in the first column, no header; "2.0" is class 2.
	d, err = ImportCSV(strings.NewReader("1,0.5,0.25\n0,1,2\n2.0,-1,1e3\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Labels, []int{1, 0, 2}) || d.Classes != nil || !reflect.DeepEqual(d.F32, []float32{0.5, 0.25, 1, 2, -1, 1000}) {
		t.Fatalf("numeric: %+v", d)
	}
	// Round trip through a file keeps the class names.
	d, _ = ImportCSV(strings.NewReader(in), 2)
	path := filepath.Join(t.TempDir(), "iris.safetensors")
	if err := WriteFile(path, d); err != nil {
		t.Fatal(err)
	}
	back, err := LoadDataset(path)
	if err != nil || !reflect.DeepEqual(back.F32, d.F32) || !reflect.DeepEqual(back.Labels, d.Labels) || !reflect.DeepEqual(back.Classes, d.Classes) {
		t.Fatalf("round trip: %+v %v", back, err)
	}

	bad := []struct{ in, want string }{
		{"a,b\n", "no data rows"},
		{"1,2\n3\n", "wrong number of fields"},
		{"1,2,3\n1,x,3\n", `line 2, column 1: "x"`},
		{"1,2\n3,NaN\n", `line 2, column 1: "NaN" is not a finite number`},
		{"1\n", "need a label and at least one feature"},
		{"1,2,3\n", "label column 5 does not exist"},
	}
	for _, c := range bad {
		col := 0
		if strings.Contains(c.want, "column 5") {
			col = 5
		}
		if _, err := ImportCSV(strings.NewReader(c.in), col); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.in, err, c.want)
		}
	}
}
