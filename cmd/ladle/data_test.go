package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/eval"
)

func TestDataImportCSV(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "iris.csv")
	os.WriteFile(csvPath, []byte("sl,sw,species\n5.1,3.5,setosa\n7.0,3.2,versicolor\n6.3,3.3,virginica\n"), 0o644)
	out := filepath.Join(dir, "iris.safetensors")
	code, stdout, stderr := runCLI(t, "data", "import-csv", csvPath, "--label-column", "2", "-o", out)
	if code != 0 || !strings.Contains(stdout, "3 samples of shape [2] (F32), labels 0 to 2") {
		t.Fatalf("exit %d, %q %q", code, stdout, stderr)
	}
	d, err := eval.LoadDataset(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.F32, []float32{5.1, 3.5, 7, 3.2, 6.3, 3.3}) || !reflect.DeepEqual(d.Labels, []int{0, 1, 2}) ||
		!reflect.DeepEqual(d.Classes, []string{"setosa", "versicolor", "virginica"}) {
		t.Fatalf("imported %+v", d)
	}
	// A second split goes into the same file and keeps the first.
	valPath := filepath.Join(dir, "val.csv")
	os.WriteFile(valPath, []byte("2,4.9,3.0\n"), 0o644)
	if code, _, stderr := runCLI(t, "data", "import-csv", valPath, "--label-column", "0", "-o", out, "--split", "val"); code != 0 {
		t.Fatalf("--split val: exit %d, %s", code, stderr)
	}
	src, err := ckpt.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	splits := eval.Splits(src)
	src.Close()
	if !reflect.DeepEqual(splits, []string{"", "val"}) {
		t.Errorf("splits %q", splits)
	}
	val, err := eval.LoadSplit(out, "val")
	if err != nil || !reflect.DeepEqual(val.F32, []float32{4.9, 3}) || !reflect.DeepEqual(val.Labels, []int{2}) {
		t.Errorf("val split %+v, %v", val, err)
	}
	if again, _ := eval.LoadDataset(out); !reflect.DeepEqual(again.F32, d.F32) {
		t.Error("the default split changed")
	}

	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("1,2\n3,oops\n"), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"data", "import-csv", csvPath, "-o", out}, 2, "--label-column"},
		{[]string{"data", "import-csv", csvPath, "--label-column", "x", "-o", out}, 2, "label-column"},
		{[]string{"data", "import-csv", csvPath, "--label-column", "1"}, 2, "-o"},
		{[]string{"data", "import-csv", bad, "--label-column", "0", "-o", filepath.Join(dir, "never.safetensors")}, 1, `bad.csv: csv: line 2, column 1: "oops"`},
		{[]string{"data", "import-csv", csvPath, "--label-column", "7", "-o", out}, 1, "label column 7 does not exist"},
		{[]string{"data", "import-csv", csvPath, "--label-column", "2", "-o", csvPath, "--split", "x"}, 1, "is one of the inputs"},
		{[]string{"data", "import-csv", csvPath, "--label-column", "2", "-o", bad, "--split", "x"}, 1, "not a dataset"},
		{[]string{"data"}, 2, "subcommand"},
		{[]string{"data", "export"}, 2, `unknown subcommand "export"`},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "never.safetensors")); err == nil {
		t.Error("a failed import left an output file")
	}
}

func writeIDXgz(t *testing.T, path string, dims []int, data []byte) {
	t.Helper()
	var raw bytes.Buffer
	raw.Write([]byte{0, 0, 8, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&raw, binary.BigEndian, uint32(d))
	}
	raw.Write(data)
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	z.Write(raw.Bytes())
	z.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDataImportIDX(t *testing.T) {
	dir := t.TempDir()
	images, labels, few := filepath.Join(dir, "img.gz"), filepath.Join(dir, "lbl.gz"), filepath.Join(dir, "few.gz")
	pixels := make([]byte, 3*2*2)
	for i := range pixels {
		pixels[i] = byte(20 * i)
	}
	writeIDXgz(t, images, []int{3, 2, 2}, pixels)
	writeIDXgz(t, labels, []int{3}, []byte{7, 1, 0})
	writeIDXgz(t, few, []int{2}, []byte{7, 1})
	out := filepath.Join(dir, "d.safetensors")
	if code, stdout, stderr := runCLI(t, "data", "import-idx", images, labels, "-o", out); code != 0 || !strings.Contains(stdout, "3 samples of shape [2 2] (U8), labels 0 to 7") {
		t.Fatalf("exit %d: %q %q", code, stdout, stderr)
	}
	d, err := eval.LoadDataset(out)
	if err != nil || !bytes.Equal(d.U8, pixels) || !reflect.DeepEqual(d.Labels, []int{7, 1, 0}) || !reflect.DeepEqual(d.Shape, []int{2, 2}) {
		t.Fatalf("%+v %v", d, err)
	}
	code, _, stderr := runCLI(t, "data", "import-idx", images, few, "-o", filepath.Join(dir, "x.safetensors"))
	if code != 1 || !strings.Contains(stderr, "img.gz") || !strings.Contains(stderr, "3 images but the labels file 2 labels") {
		t.Errorf("count mismatch: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "data", "import-idx", labels, images, "-o", filepath.Join(dir, "x.safetensors"))
	if code != 1 || !strings.Contains(stderr, "labels: an IDX label file has one dimension") {
		t.Errorf("swapped files: exit %d, %q", code, stderr)
	}
	if code, _, _ := runCLI(t, "data", "import-idx", images, "-o", out); code != 2 {
		t.Errorf("one file: exit %d, want 2", code)
	}
}
