package ckpt

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// NotRegularError reports a path that names something other than a regular file
// (a FIFO, a device, a socket, a symbolic link, a folder) where Ladle reads or writes
// a file. Reading a FIFO blocks until some other program writes it, and a device
// never ends; writing over one through a rename would replace the device node itself
// (as root, `-o /dev/null` once turned /dev/null into a regular file), and renaming
// over a symbolic link replaces the link, not the file it points to.
type NotRegularError struct {
	Path   string
	Kind   string // "named pipe (FIFO)", "device", "socket", "symbolic link", "folder", ...
	Output bool   // true: the path was to be written
	Folder bool   // true: a folder was wanted (the output of a sharded checkpoint)
}

func (e *NotRegularError) Error() string {
	if e.Folder {
		return fmt.Sprintf("%s is a %s, not a folder: a sharded checkpoint is written into a folder of its own; choose another output path", e.Path, e.Kind)
	}
	if e.Output {
		return fmt.Sprintf("%s is a %s, not a regular file: Ladle writes its outputs as new regular files and will not replace it; choose another output path", e.Path, e.Kind)
	}
	return fmt.Sprintf("%s is a %s, not a regular file: Ladle reads checkpoints, recipes and data only from regular files (a pipe or a device would block or never end); copy it into a file first", e.Path, e.Kind)
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsDir():
		return "folder"
	default:
		return "special file"
	}
}

// OpenInput opens a file to read, refusing anything but a regular file (symbolic
// links are followed). It checks before opening, since opening a FIFO already blocks.
func OpenInput(path string) (*os.File, fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, &NotExistError{Path: path} // "stat PATH: ..." reads like a program's trace
	}
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, &NotRegularError{Path: path, Kind: kindOf(fi.Mode())}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() { // replaced in between
		f.Close()
		if err == nil {
			err = &NotRegularError{Path: path, Kind: kindOf(fi.Mode())}
		}
		return nil, nil, err
	}
	return f, fi, nil
}

// ReadInputFile reads a whole regular file (a recipe, an architecture spec), like
// os.ReadFile but refusing FIFOs, devices and folders with a NotRegularError.
func ReadInputFile(path string) ([]byte, error) {
	f, _, err := OpenInput(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// CheckOutputFile refuses an output path that exists as anything but a regular file:
// a device, a FIFO, a socket, a folder or a symbolic link (not followed).
func CheckOutputFile(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return OutputErrorFor(path, err) // e.g. a parent that is a file
	}
	if !fi.Mode().IsRegular() {
		return &NotRegularError{Path: path, Kind: kindOf(fi.Mode()), Output: true}
	}
	return nil
}

// CheckOutputDir refuses an output folder path that exists as anything but a folder
// (a symbolic link is refused too: its target is not where the user asked).
func CheckOutputDir(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return OutputErrorFor(path, err) // e.g. a parent that is a file
	}
	if !fi.IsDir() {
		kind := kindOf(fi.Mode())
		if fi.Mode().IsRegular() {
			kind = "regular file"
		}
		return &NotRegularError{Path: path, Kind: kind, Output: true, Folder: true}
	}
	return nil
}
