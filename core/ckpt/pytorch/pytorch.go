package pytorch

import (
	"errors"
	"fmt"
	"io"

	"ladle/core/ckpt"
)

func init() {
	ckpt.Register(ckpt.Format{Name: "pytorch", Sniff: Sniff, Open: Open})
}

// Open reads the index of the torch.save file held by r (size bytes): it
// parses the pickle and records where each tensor's bytes are, reading no
// tensor data. path only names the file in errors. The Source does not own r,
// which must stay readable until the Source is no longer used.
func Open(r io.ReaderAt, size int64, path string) (src ckpt.Source, err error) {
	defer func() {
		if p := recover(); p != nil {
			src, err = nil, &ckpt.FormatError{File: path, Msg: fmt.Sprintf("internal error (please report): %v", p)}
		}
	}()
	if size < 0 {
		return nil, &ckpt.FormatError{File: path, Msg: "negative file size"}
	}
	head := make([]byte, min(size, ckpt.SniffLen))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// Open is more lenient than Sniff: any zip or tar archive is read as one,
	// so that a near miss gets an error about what is missing.
	switch {
	case len(head) >= 4 && string(head[:4]) == "PK\x03\x04":
		return openZip(r, size, path)
	case isLegacy(head):
		return openLegacy(r, size, path)
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return openTar(r, size, path)
	}
	return nil, &ckpt.FormatError{File: path, Msg: "not a torch.save file: it is neither a torch zip archive, " +
		"nor starts with torch's legacy magic number, nor is a torch tar archive"}
}

// selectTensors finds the state dict in the unpickled root and names its
// tensors, within the budget of the pickle that held it.
func selectTensors(path string, root any, b *budget) ([]named, error) {
	f := newFlattener(b)
	sel := selectRoot(root)
	if err := f.flatten(sel); err != nil {
		return nil, pickleError(path, "", err)
	}
	if len(f.out) == 0 {
		_, isDict := dictItems(sel)
		_, isMod := isModule(sel)
		if !isDict && !isMod {
			return nil, &ckpt.UnsupportedError{File: path, Msg: fmt.Sprintf(
				"the file holds %s, which has no tensors; Ladle reads state dicts, modules and tensors", describe(sel))}
		}
	}
	return f.out, nil
}

// pickleError reports an error from reading the pickle named what. A refusal
// under the pickle budget is a FormatError whose Err is ErrBudget.
func pickleError(path, what string, err error) error {
	msg := err.Error()
	var kind error
	switch e := err.(type) {
	case *ckpt.UnsupportedError:
		msg, kind = e.Msg, e.Err
	case *ckpt.FormatError:
		msg, kind = e.Msg, e.Err
	}
	if errors.Is(err, ErrBudget) {
		kind = ErrBudget
	}
	if what != "" {
		msg = what + ": " + msg
	}
	if _, ok := err.(*ckpt.UnsupportedError); ok {
		return &ckpt.UnsupportedError{File: path, Msg: msg, Err: kind}
	}
	return &ckpt.FormatError{File: path, Msg: msg, Err: kind}
}
