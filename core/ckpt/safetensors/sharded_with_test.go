package safetensors

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

// TestOpenIndexWith: a sharded checkpoint opened from readers reads as OpenIndex
// reads it from its folder, asks only for the index's plain shard names, leaves the
// readers open, and refuses bad indexes as OpenIndex does.
func TestOpenIndexWith(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	tensors, data := randomCheckpoint(rng)
	dir := t.TempDir()
	sw, err := NewShardedWriter(dir, "model", tensors, map[string]string{"format": "pt"}, 64)
	if err != nil {
		t.Fatal(err)
	}
	for i, info := range tensors {
		if err := sw.WriteTensor(info.Name, data[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	var asked []string
	open := func(shard string) (io.ReaderAt, int64, error) {
		asked = append(asked, shard)
		b, ok := files[shard]
		if !ok {
			return nil, 0, fmt.Errorf("no file %s", shard)
		}
		return bytes.NewReader(b), int64(len(b)), nil
	}
	index := files["model.safetensors.index.json"]
	src, err := OpenIndexWith("mymodel/model.safetensors.index.json", index, open)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	want, err := OpenIndex(filepath.Join(dir, "model.safetensors.index.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	if len(asked) < 2 || len(asked) != len(want.Shards()) {
		t.Errorf("opened shards %v, want the %d of the index", asked, len(want.Shards()))
	}
	if !reflect.DeepEqual(src.Metadata(), want.Metadata()) || !reflect.DeepEqual(src.Tensors(), want.Tensors()) {
		t.Errorf("metadata or tensors differ from OpenIndex's")
	}
	if s := src.Shards(); !strings.HasPrefix(s[0], "mymodel/model-00001-of-") {
		t.Errorf("shards are named %v", s)
	}
	for i, info := range src.Tensors() {
		if info.Name != tensors[i].Name || !bytes.Equal(tensorBytes(t, src, info.Name), data[i]) {
			t.Fatalf("tensor %d (%s) differs", i, info.Name)
		}
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	var _ ckpt.Source = src

	// The checks of OpenIndex, and a shard the caller cannot open.
	one := mustWrite(t, []ckpt.Info{{Name: "a", DType: dtype.F32, Shape: []int64{1}}}, nil, [][]byte{make([]byte, 4)})
	files = map[string][]byte{"s1.safetensors": one}
	for name, index := range map[string]string{
		"escape":    `{"weight_map": {"a": "../s1.safetensors"}}`,
		"missing":   `{"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}}`,
		"unlisted":  `{"weight_map": {"zz": "s1.safetensors"}}`,
		"no shard":  `{"weight_map": {"a": "s2.safetensors"}}`,
		"bad json":  `{"weight_map": `,
		"empty map": `{"metadata": {}}`,
	} {
		asked = nil
		if src, err := OpenIndexWith("m/model.safetensors.index.json", []byte(index), open); err == nil {
			src.Close()
			t.Errorf("%s: index accepted", name)
		} else if !strings.Contains(err.Error(), "m/model.safetensors.index.json") && !strings.Contains(err.Error(), "m/s2.safetensors") {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
		for _, a := range asked {
			if strings.ContainsAny(a, `/\`) {
				t.Errorf("%s: asked for %q", name, a)
			}
		}
	}
}
