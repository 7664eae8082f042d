package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/ckpttest"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
)

func TestInspectJSONContract(t *testing.T) {
	path := ckpttest.Fixture(t, "safetensors-samples/overall.safetensors")
	code, stdout, stderr := runCLI(t, "inspect", "--json", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if len(got) != 1 {
		t.Fatalf("%d objects, want 1", len(got))
	}
	obj := got[0]
	var keys []string
	for k := range obj {
		keys = append(keys, k)
	}
	if len(keys) != 4 || obj["path"] != path || obj["format"] != "safetensors" {
		t.Errorf("object %v", obj)
	}
	if !reflect.DeepEqual(obj["metadata"], map[string]any{"test": "a"}) {
		t.Errorf("metadata %v", obj["metadata"])
	}
	tensors := obj["tensors"].([]any)
	first := tensors[0].(map[string]any)
	if !reflect.DeepEqual(first, map[string]any{"name": "B", "dtype": "U8", "shape": []any{6.0}}) {
		t.Errorf("first tensor %v", first)
	}
}

func TestInspectJSONScalarShapeIsAnArray(t *testing.T) {
	path := ckpttest.Fixture(t, "burn-mnist/run-c.safetensors")
	_, stdout, _ := runCLI(t, "inspect", "--json", path)
	if !strings.Contains(stdout, `"name": "norm1.num_batches_tracked",
        "dtype": "I64",
        "shape": []`) {
		t.Errorf("a scalar's shape must be [] in JSON:\n%s", stdout[:min(len(stdout), 400)])
	}
}

func TestInspectTable(t *testing.T) {
	path := ckpttest.Fixture(t, "burn-mnist/run-c.safetensors")
	code, stdout, _ := runCLI(t, "inspect", path)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"(safetensors, 20 tensors)", "NAME", "PARAMETERS", "fc1.weight", "[32, 11616]", "371,712", "1,486,848", "376,940", "1,507,768", "F32 376,938, I64 2"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
}

func TestInspectErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.bin")
	os.WriteFile(junk, []byte("this is not a checkpoint at all"), 0o644)
	trunc := filepath.Join(dir, "trunc.safetensors")
	os.WriteFile(trunc, append(binary.LittleEndian.AppendUint64(nil, 100), `{"a":`...), 0o644)
	for _, args := range [][]string{{junk}, {trunc}, {filepath.Join(dir, "missing.pt")}, {"--json", junk}} {
		code, stdout, stderr := runCLI(t, append([]string{"inspect"}, args...)...)
		name := filepath.Base(args[len(args)-1])
		if code != 1 || !strings.Contains(stderr, name) {
			t.Errorf("inspect %v: exit %d, stderr %q; want 1 and a message naming %s", args, code, stderr, name)
		}
		if strings.Contains(args[0], "json") && stdout != "" {
			t.Errorf("inspect --json printed a partial answer: %q", stdout)
		}
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// headerOnly is a file of `size` bytes that is its header followed by zeros, without
// the zeros in memory: a multi-gigabyte checkpoint for the price of its header.
type headerOnly struct {
	header []byte
	size   int64
}

func (h headerOnly) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	if off < int64(len(h.header)) {
		copy(p, h.header[off:])
	}
	if off+int64(len(p)) > h.size {
		return int(max(0, h.size-off)), io.EOF
	}
	return len(p), nil
}

func TestInspectOfALargeFileReadsOnlyItsHeader(t *testing.T) {
	var tensors []ckpt.Info
	var data int64
	for i := 0; i < 40; i++ { // 40 x 100 MB = 4 GB
		info := ckpt.Info{Name: "layers." + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + ".weight" + string(rune('A'+i/26)), DType: dtype.F32, Shape: []int64{5000, 5000}}
		tensors = append(tensors, info)
		data += info.Bytes()
	}
	header, err := safetensors.EncodeHeader(tensors, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	file := headerOnly{header: append(binary.LittleEndian.AppendUint64(nil, uint64(len(header))), header...)}
	file.size = int64(len(file.header)) + data
	c := &countingReaderAt{r: file}
	src, err := ckpt.OpenReaderAt(c, file.size, "big.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res := describe("big.safetensors", src)
	printTable(&out, res)
	json.NewEncoder(&out).Encode([]inspected{res})
	if len(res.Tensors) != 40 {
		t.Fatalf("%d tensors", len(res.Tensors))
	}
	// Sniffing reads the first bytes once more; nothing else may be read.
	if got, limit := c.n.Load(), int64(len(file.header))+ckpt.SniffLen; got > limit {
		t.Errorf("inspect read %d bytes of a %d-byte file; only the %d-byte header (and %d sniffed) may be read", got, file.size, len(file.header), ckpt.SniffLen)
	}
	if !strings.Contains(out.String(), "1,000,000,000") {
		t.Errorf("the table does not total 1e9 parameters:\n%s", out.String())
	}
}
