package ckpt

import (
	"errors"
	"fmt"
	"io/fs"
)

// FormatError reports a malformed checkpoint: the bytes do not follow the format
// (truncated, inconsistent offsets, bad JSON, ...). It names the file and, when the
// problem is in one tensor, that tensor.
type FormatError struct {
	File   string // path of the file, "" when unknown
	Tensor string // tensor name, "" when the problem is not in one tensor
	Msg    string // what is wrong
	Err    error  // the kind of problem, for errors.Is (a format package's sentinel); may be nil
}

func (e *FormatError) Error() string {
	return describe(e.File, e.Tensor, "malformed checkpoint: "+e.Msg)
}

func (e *FormatError) Unwrap() error { return e.Err }

// UnsupportedError reports a well-formed checkpoint that uses something Ladle does
// not handle (an unknown dtype, TorchScript, a storage type, ...).
type UnsupportedError struct {
	File   string
	Tensor string
	Msg    string
	Err    error // the kind of problem, for errors.Is; may be nil
}

func (e *UnsupportedError) Error() string {
	return describe(e.File, e.Tensor, "unsupported: "+e.Msg)
}

func (e *UnsupportedError) Unwrap() error { return e.Err }

// NotFoundError reports a tensor name that the checkpoint does not hold.
type NotFoundError struct {
	File   string
	Tensor string
}

func (e *NotFoundError) Error() string {
	return describe(e.File, "", fmt.Sprintf("no tensor named %q", e.Tensor))
}

func describe(file, tensor, msg string) string {
	s := msg
	if tensor != "" {
		s = fmt.Sprintf("tensor %q: %s", tensor, s)
	}
	if file != "" {
		s = file + ": " + s
	}
	return s
}

// NotExistError reports a path with nothing there; errors.Is(err, fs.ErrNotExist)
// holds, so that a caller can try another name (an adapter's .bin after its
// .safetensors).
type NotExistError struct {
	Path string
}

func (e *NotExistError) Error() string { return e.Path + ": no such file or folder" }

func (e *NotExistError) Unwrap() error { return fs.ErrNotExist }

// OutputError reports an output that cannot be created where the user asked: a
// missing or read-only folder, a full disk. It names the output and its folder, not the
// temporary file the output is written through, and says what to do.
type OutputError struct {
	Path string // the output as the user named it; "" when only the folder is known
	Dir  string // the folder it goes in
	Err  error  // the operating system's error
}

func (e *OutputError) Error() string {
	what := "an output in " + e.Dir
	if e.Path != "" {
		what = e.Path
	}
	switch {
	case errors.Is(e.Err, fs.ErrNotExist):
		return fmt.Sprintf("cannot write %s: the folder %s does not exist; create it or choose another output path", what, e.Dir)
	case errors.Is(e.Err, fs.ErrPermission):
		return fmt.Sprintf("cannot write %s: the folder %s is not writable (permission denied); choose another output path or change the folder's permissions", what, e.Dir)
	}
	cause := e.Err
	var pe *fs.PathError
	if errors.As(cause, &pe) {
		cause = pe.Err // the path in it is the temporary file's
	}
	return fmt.Sprintf("cannot write %s in the folder %s: %v", what, e.Dir, cause)
}

func (e *OutputError) Unwrap() error { return e.Err }
