package safetensors

import (
	"bufio"

	"ladle/core/ckpt"
)

// WriteFile writes a safetensors file at path that appears only when complete: it
// declares tensors and metadata in the header, lets write stream the tensors' data into
// the Writer, in order, and renames the file into place only when write returned nil and
// every declared tensor was written.
func WriteFile(path string, tensors []ckpt.Info, metadata map[string]string, write func(*Writer) error) error {
	f, err := ckpt.CreateAtomic(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	buf := bufio.NewWriterSize(f, 4<<20)
	w, err := NewWriter(buf, tensors, metadata)
	if err != nil {
		return err
	}
	if err := write(w); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := buf.Flush(); err != nil {
		return err
	}
	return f.Commit()
}
