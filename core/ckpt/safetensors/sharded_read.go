package safetensors

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"ladle/core/ckpt"
)

// maxIndexSize bounds the index file read into memory; real ones are a few hundred KB.
const maxIndexSize = 64 << 20

// indexFile is the JSON of a *.safetensors.index.json file, as Hugging Face writes it.
type indexFile struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// Sharded is a checkpoint split across several safetensors files and listed by an
// index. It implements ckpt.Source; its tensors come shard by shard, each shard in
// file order.
type Sharded struct {
	path     string
	shards   []*shard
	byName   map[string]*shard
	tensors  []ckpt.Info
	metadata map[string]string
}

type shard struct {
	file   *os.File // nil when the caller owns the reader (OpenIndexWith)
	reader *Reader
}

// OpenIndex opens the sharded checkpoint whose index file is at path. Shard files
// are resolved in the index's folder and must be plain file names (no folders), so an
// index cannot point outside its folder.
func OpenIndex(path string) (*Sharded, error) {
	f, _, err := ckpt.OpenInput(path)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxIndexSize+1))
	f.Close()
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	return openIndex(path, raw, func(file string) (*shard, error) { return openShard(filepath.Join(dir, file)) })
}

// OpenIndexWith opens a sharded checkpoint from its index's bytes, reading the shards
// through open, which is given each shard's plain file name as the index lists it
// (never one with folders) and returns the shard's bytes and size. indexPath names the
// index in errors; a shard is named by indexPath's folder joined with its file name
// (with '/', as in a browser's relative paths). The checks are OpenIndex's. Close does
// not close the readers open returned: they belong to the caller.
func OpenIndexWith(indexPath string, index []byte, open func(shard string) (io.ReaderAt, int64, error)) (*Sharded, error) {
	dir := path.Dir(strings.ReplaceAll(indexPath, "\\", "/"))
	return openIndex(indexPath, index, func(file string) (*shard, error) {
		name := path.Join(dir, file)
		r, size, err := open(file)
		if err != nil {
			return nil, fmt.Errorf("opening a shard of the checkpoint (%s): %w", name, err)
		}
		rd, err := Open(r, size, name)
		if err != nil {
			return nil, err
		}
		return &shard{reader: rd}, nil
	})
}

// openIndex validates an index's bytes (raw, read from path) and opens its shards
// with openShard, given each shard's plain file name.
func openIndex(path string, raw []byte, openShard func(file string) (*shard, error)) (*Sharded, error) {
	fail := func(tensor, format string, args ...any) error {
		return &ckpt.FormatError{File: path, Tensor: tensor, Msg: fmt.Sprintf(format, args...), Err: ErrInvalidJSON}
	}
	if len(raw) > maxIndexSize {
		return nil, fail("", "the index is larger than %d bytes", maxIndexSize)
	}
	var idx indexFile
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fail("", "the index is not valid JSON: %v", err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fail("", "the index has no weight_map (or an empty one)")
	}
	// Shards in the order of their file names, which for model-0000i-of-0000n is their number.
	var files []string
	seenFile := map[string]bool{}
	for name, file := range idx.WeightMap {
		if file == "" || filepath.Base(file) != file || file == "." || file == ".." || strings.ContainsAny(file, `/\`) {
			return nil, fail(name, "shard file %q must be a plain file name in the index's folder", file)
		}
		if !seenFile[file] {
			seenFile[file] = true
			files = append(files, file)
		}
	}
	sort.Strings(files)

	s := &Sharded{path: path, byName: map[string]*shard{}, metadata: map[string]string{}}
	for _, file := range files {
		sh, err := openShard(file)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.shards = append(s.shards, sh)
		for _, t := range sh.reader.Tensors() {
			if other, dup := s.byName[t.Name]; dup {
				s.Close()
				return nil, &ckpt.FormatError{File: path, Tensor: t.Name, Err: ErrDuplicateName,
					Msg: fmt.Sprintf("the tensor is in both %s and %s", other.reader.Path(), sh.reader.Path())}
			}
			if want, listed := idx.WeightMap[t.Name]; !listed || want != file {
				s.Close()
				return nil, fail(t.Name, "shard %s holds the tensor but the index maps it to %q", file, want)
			}
			s.byName[t.Name] = sh
			s.tensors = append(s.tensors, t)
		}
	}
	for name, file := range idx.WeightMap {
		if _, ok := s.byName[name]; !ok {
			s.Close()
			return nil, fail(name, "the index maps the tensor to %s, which does not hold it", file)
		}
	}
	for k, v := range s.shards[0].reader.Metadata() {
		s.metadata[k] = v
	}
	for k, v := range idx.Metadata {
		if str, ok := v.(string); ok {
			s.metadata[k] = str
		} else if enc, err := json.Marshal(v); err == nil {
			s.metadata[k] = string(enc)
		}
	}
	return s, nil
}

func openShard(path string) (*shard, error) {
	f, fi, err := ckpt.OpenInput(path) // a FIFO as a shard would block forever
	if err != nil {
		return nil, fmt.Errorf("opening a shard of the checkpoint: %w", err)
	}
	r, err := Open(f, fi.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &shard{file: f, reader: r}, nil
}

// Path is the index file the checkpoint was opened from.
func (s *Sharded) Path() string { return s.path }

// Format returns "safetensors".
func (s *Sharded) Format() string { return "safetensors" }

// Metadata merges the first shard's __metadata__ with the index's metadata
// (non-string values such as total_size as their JSON text).
func (s *Sharded) Metadata() map[string]string { return s.metadata }

// Tensors lists every tensor, shard by shard.
func (s *Sharded) Tensors() []ckpt.Info { return s.tensors }

// Shards lists the shard files in order.
func (s *Sharded) Shards() []string {
	var paths []string
	for _, sh := range s.shards {
		paths = append(paths, sh.reader.Path())
	}
	return paths
}

// Tensor returns a reader over the named tensor's bytes in its shard.
func (s *Sharded) Tensor(name string) (*io.SectionReader, error) {
	sh, ok := s.byName[name]
	if !ok {
		return nil, &ckpt.NotFoundError{File: s.path, Tensor: name}
	}
	return sh.reader.Tensor(name)
}

// Close closes every shard file that OpenIndex opened.
func (s *Sharded) Close() error {
	var first error
	for _, sh := range s.shards {
		if sh.file == nil {
			continue
		}
		if err := sh.file.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.shards = nil
	return first
}

var _ ckpt.Source = (*Sharded)(nil)
