package ckpt

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// A Format is a container format that Open recognises by its first bytes, as
// image.RegisterFormat does for images. Format packages register themselves in init,
// so a program that wants ckpt.Open to read safetensors imports ladle/core/ckpt/safetensors
// (ladle/core/ckpt/all imports every format).
type Format struct {
	Name string
	// Sniff reports whether a file of the given size that starts with head (up to
	// SniffLen bytes, fewer for short files) is in this format.
	Sniff func(head []byte, size int64) bool
	// Open reads the container's index from r. The returned Source does not own r.
	Open func(r io.ReaderAt, size int64, path string) (Source, error)
}

// SniffLen is how many leading bytes Open gives to Format.Sniff (512 reaches a tar header's magic).
const SniffLen = 512

var (
	formatsMu   sync.RWMutex
	formats     []Format
	indexOpener func(indexPath string) (Source, error)
)

// Register makes a format known to Open.
func Register(f Format) {
	formatsMu.Lock()
	defer formatsMu.Unlock()
	formats = append(formats, f)
}

// RegisterIndex sets the function that opens a sharded checkpoint from its
// *.safetensors.index.json file.
func RegisterIndex(open func(indexPath string) (Source, error)) {
	formatsMu.Lock()
	defer formatsMu.Unlock()
	indexOpener = open
}

// FormatNames lists the registered formats.
func FormatNames() []string {
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	var names []string
	for _, f := range formats {
		names = append(names, f.Name)
	}
	return names
}

// IndexSuffix ends the name of a sharded checkpoint's index file.
const IndexSuffix = ".safetensors.index.json"

// Open opens a checkpoint file, sniffing its format from its bytes (never from its
// extension), or a sharded checkpoint given as its index file or as the folder
// that holds the index. The caller must Close the result.
func Open(path string) (Source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &NotExistError{Path: path}
		}
		return nil, err
	}
	if fi.IsDir() {
		index, err := findIndex(path)
		if err != nil {
			return nil, err
		}
		return openIndex(index)
	}
	f, fi, err := OpenInput(path) // a FIFO or a device would block or never end
	if err != nil {
		return nil, err
	}
	src, err := OpenReaderAt(f, fi.Size(), path)
	if err == nil {
		return &ownedSource{Source: src, closer: f}, nil
	}
	f.Close()
	var unknown *UnknownFormatError
	if errors.As(err, &unknown) && looksLikeJSON(unknown.head) {
		return openIndex(path)
	}
	return nil, err
}

// OpenReaderAt opens a checkpoint held by r (size bytes), sniffing its format. path
// only names the checkpoint in errors. The Source does not close r.
func OpenReaderAt(r io.ReaderAt, size int64, path string) (Source, error) {
	head := make([]byte, min(size, SniffLen))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	formatsMu.RLock()
	fs := append([]Format(nil), formats...)
	formatsMu.RUnlock()
	for _, f := range fs {
		if f.Sniff(head, size) {
			return f.Open(r, size, path)
		}
	}
	return nil, &UnknownFormatError{File: path, Size: size, head: head, known: FormatNames()}
}

// UnknownFormatError reports a file whose first bytes match no registered format.
type UnknownFormatError struct {
	File  string
	Size  int64
	head  []byte
	known []string
}

func (e *UnknownFormatError) Error() string {
	if found := whatIsIt(e.head, e.Size); found != "" {
		return e.File + ": " + found
	}
	return fmt.Sprintf("%s: not a checkpoint Ladle can read (its first bytes match none of: %s; "+
		"a sharded checkpoint is opened through its folder or its %s file)",
		e.File, strings.Join(e.known, ", "), IndexSuffix)
}

func looksLikeJSON(head []byte) bool {
	s := strings.TrimLeft(string(head), " \t\r\n\ufeff")
	return strings.HasPrefix(s, "{")
}

func openIndex(path string) (Source, error) {
	formatsMu.RLock()
	open := indexOpener
	formatsMu.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("%s: sharded checkpoints need ladle/core/ckpt/safetensors to be imported", path)
	}
	return open(path)
}

// findIndex returns the index file of a sharded checkpoint folder. With several
// index files, model.safetensors.index.json wins; otherwise the choice is an error.
func findIndex(dir string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*"+IndexSuffix))
	if err != nil {
		return "", err
	}
	sort.Strings(matches)
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("%s: a folder is read as a sharded checkpoint, but it holds no *%s file", dir, IndexSuffix)
	case 1:
		return matches[0], nil
	}
	for _, m := range matches {
		if filepath.Base(m) == "model"+IndexSuffix {
			return m, nil
		}
	}
	return "", fmt.Errorf("%s: the folder holds several index files (%s); open one of them directly", dir, strings.Join(matches, ", "))
}

// ownedSource closes the file it was opened from.
type ownedSource struct {
	Source
	closer io.Closer
}

func (s *ownedSource) Close() error {
	err := s.Source.Close()
	if cerr := s.closer.Close(); err == nil {
		err = cerr
	}
	return err
}
