package ckpt

import (
	"os"
	"path/filepath"
)

// AtomicFile is an output file that appears at its final path only when Commit
// succeeds: data goes to a temporary file in the same folder, which Commit renames and
// Abort removes. A failed or interrupted write never leaves a half-written checkpoint
// behind. Commit does not fsync: like torch.save and safetensors, Ladle leaves
// durability against power loss to the file system, which costs a merge of gigabytes
// seconds of waiting otherwise.
type AtomicFile struct {
	*os.File
	final string
	done  bool
}

// CreateAtomic starts writing the file that will be named path.
func CreateAtomic(path string) (*AtomicFile, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.partial")
	if err != nil {
		return nil, err
	}
	return &AtomicFile{File: f, final: path}, nil
}

// Commit closes the file and moves it to its final name.
func (a *AtomicFile) Commit() error {
	if a.done {
		return os.ErrClosed
	}
	a.done = true
	if err := a.File.Close(); err != nil {
		os.Remove(a.File.Name())
		return err
	}
	if err := os.Chmod(a.File.Name(), 0o644); err != nil {
		os.Remove(a.File.Name())
		return err
	}
	if err := os.Rename(a.File.Name(), a.final); err != nil {
		os.Remove(a.File.Name())
		return err
	}
	return nil
}

// Abort discards the temporary file. It is safe to call after Commit (it then does
// nothing), so `defer f.Abort()` is the usual pattern.
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.File.Close()
	os.Remove(a.File.Name())
}

// WriteFileAtomic writes data to path through an AtomicFile: the file appears whole or
// not at all.
func WriteFileAtomic(path string, data []byte) error {
	f, err := CreateAtomic(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}
