package ckpt

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// AtomicFile is an output file that appears at its final path only when Commit
// succeeds: data goes to a temporary file in the same folder, which Commit renames and
// Abort removes. A failed or interrupted write never leaves a half-written checkpoint
// behind. Commit does not fsync: like torch.save and safetensors, Ladle leaves
// durability against power loss to the file system, which costs a merge of gigabytes
// seconds of waiting otherwise.
//
// The temporary file is named .NAME.DIGITS.partial and, where the platform has
// flock, holds an exclusive lock while it is written: a later run removes partial
// files of its output that nobody holds (left by a crash or a kill -9), and leaves
// those of a run still writing alone. A command that ends on a signal calls
// RemovePartials, which deletes every partial file still open.
type AtomicFile struct {
	*os.File
	final string
	done  bool
}

// CreateAtomic starts writing the file that will be named path. It refuses a path
// that exists as anything but a regular file (see CheckOutputFile), and first removes
// stale partial files of the same output.
func CreateAtomic(path string) (*AtomicFile, error) {
	if err := CheckOutputFile(path); err != nil {
		return nil, err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	SweepStalePartials(dir, "."+base+".")
	f, err := CreatePartial(dir, "."+base+".*.partial")
	if err != nil {
		return nil, OutputErrorFor(path, err)
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
		RemovePartial(a.File.Name())
		return err
	}
	if err := os.Chmod(a.File.Name(), 0o644); err != nil {
		RemovePartial(a.File.Name())
		return err
	}
	if err := CheckOutputFile(a.final); err != nil { // it may have appeared meanwhile
		RemovePartial(a.File.Name())
		return err
	}
	if err := CommitPartial(a.File.Name(), a.final); err != nil {
		RemovePartial(a.File.Name())
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
	RemovePartial(a.File.Name())
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

// partials are the temporary files and folders this process is writing.
var partials struct {
	sync.Mutex
	files   map[string]bool
	dirs    []string // folders created for outputs, innermost last
	staging []string // temporary folders an output is assembled in (removed whole)
	stopped bool     // RemovePartials ran: no new output may start or be committed
}

// errStopped is what writes get once RemovePartials has run.
var errStopped = &os.PathError{Op: "write", Path: "output", Err: os.ErrClosed}

// CreatePartial creates a temporary output file in dir (os.CreateTemp's pattern),
// locks it and records it, so that RemovePartials can delete it. Commit it with
// CommitPartial or discard it with RemovePartial.
func CreatePartial(dir, pattern string) (*os.File, error) {
	partials.Lock()
	defer partials.Unlock()
	if partials.stopped {
		return nil, errStopped
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	lockPartial(f)
	if partials.files == nil {
		partials.files = map[string]bool{}
	}
	partials.files[f.Name()] = true
	return f, nil
}

// OutputErrorFor reports that the output path could not be created in its folder
// (an OutputError), or passes err on when the command is being stopped.
func OutputErrorFor(path string, err error) error {
	if err == nil || err == errStopped {
		return err
	}
	return &OutputError{Path: path, Dir: filepath.Dir(filepath.Clean(path)), Err: err}
}

// CommitPartial renames a finished partial file to its final name.
func CommitPartial(partial, final string) error {
	partials.Lock()
	defer partials.Unlock()
	if partials.stopped {
		return errStopped
	}
	if err := os.Rename(partial, final); err != nil {
		return err
	}
	delete(partials.files, partial)
	return nil
}

// RenamePartial gives a finished partial file its final name but keeps it recorded,
// for outputs made of several files (shards and their index) that must appear
// together: RemovePartials still deletes it until ForgetPartials.
func RenamePartial(partial, final string) error {
	partials.Lock()
	defer partials.Unlock()
	if partials.stopped {
		return errStopped
	}
	if err := os.Rename(partial, final); err != nil {
		return err
	}
	delete(partials.files, partial)
	partials.files[final] = true
	return nil
}

// ForgetPartials stops recording files RenamePartial named: the output is complete.
func ForgetPartials(names ...string) {
	partials.Lock()
	defer partials.Unlock()
	for _, n := range names {
		delete(partials.files, n)
	}
}

// RemovePartial deletes a partial file that will not be committed.
func RemovePartial(partial string) {
	partials.Lock()
	defer partials.Unlock()
	os.Remove(partial)
	delete(partials.files, partial)
}

// MkdirOutput creates an output folder (and its missing parents) and records the
// outermost one it created, so that RemoveOutputDir, or RemovePartials, can take it
// away again when the output fails.
func MkdirOutput(dir string) (created string, err error) {
	if err := CheckOutputDir(dir); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for p := abs; ; {
		if _, err := os.Lstat(p); err == nil {
			break
		}
		created = p
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	partials.Lock()
	defer partials.Unlock()
	if partials.stopped {
		return "", errStopped
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", OutputErrorFor(dir, err)
	}
	if created != "" {
		partials.dirs = append(partials.dirs, created)
	}
	return created, nil
}

// KeepOutputDir forgets a folder MkdirOutput created, once its output is complete.
func KeepOutputDir(created string) {
	partials.Lock()
	defer partials.Unlock()
	for i, d := range partials.dirs {
		if d == created {
			partials.dirs = append(partials.dirs[:i], partials.dirs[i+1:]...)
			break
		}
	}
}

// RemoveOutputDir removes a folder MkdirOutput created, and the parents it created,
// if they hold nothing (an aborted output leaves nothing behind, not even its folder).
func RemoveOutputDir(created string) {
	if created == "" {
		return
	}
	KeepOutputDir(created)
	removeEmptyTree(created)
}

// removeEmptyTree removes dir and the folders in it when they hold no files.
func removeEmptyTree(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			removeEmptyTree(filepath.Join(dir, e.Name()))
		}
	}
	os.Remove(dir) // fails, as it should, when anything is left
}

// MkdirStaging creates a temporary folder in parent (os.MkdirTemp's pattern) in which
// an output made of several files is assembled before it is renamed into place, and
// records it, so that RemovePartials deletes it with all it holds. Call DoneStaging
// once it is renamed or removed.
func MkdirStaging(parent, pattern string) (string, error) {
	partials.Lock()
	defer partials.Unlock()
	if partials.stopped {
		return "", errStopped
	}
	dir, err := os.MkdirTemp(parent, pattern)
	if err != nil {
		return "", &OutputError{Dir: filepath.Clean(parent), Err: err}
	}
	partials.staging = append(partials.staging, dir)
	return dir, nil
}

// DoneStaging forgets a folder MkdirStaging made.
func DoneStaging(dir string) {
	partials.Lock()
	defer partials.Unlock()
	for i, d := range partials.staging {
		if d == dir {
			partials.staging = append(partials.staging[:i], partials.staging[i+1:]...)
			break
		}
	}
}

// RemovePartials deletes every partial file this process is still writing and the
// output folders it created that hold nothing else, and makes every later CreatePartial
// and CommitPartial fail: a command calls it when a signal ends it, just before
// exiting. It returns the files it removed.
func RemovePartials() []string {
	partials.Lock()
	defer partials.Unlock()
	partials.stopped = true
	var removed []string
	for f := range partials.files {
		if os.Remove(f) == nil {
			removed = append(removed, f)
		}
	}
	partials.files = nil
	for _, d := range partials.staging {
		if os.RemoveAll(d) == nil {
			removed = append(removed, d)
		}
	}
	partials.staging = nil
	for i := len(partials.dirs) - 1; i >= 0; i-- {
		removeEmptyTree(partials.dirs[i])
	}
	partials.dirs = nil
	return removed
}

// StaleRemoved, when set, is told of each stale partial file SweepStalePartials
// removes (the command prints a note).
var StaleRemoved func(path string)

// SweepStalePartials removes the partial files in dir whose names start with prefix
// (".NAME." for the output NAME), end in ".partial" with os.CreateTemp's digits
// between, and that no process holds locked: what an interrupted run of Ladle left.
// Where locks are unavailable it removes nothing. It returns the files it removed.
func SweepStalePartials(dir, prefix string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !isPartialName(name, prefix) {
			continue
		}
		path := filepath.Join(dir, name)
		partials.Lock()
		ours := partials.files[path]
		partials.Unlock()
		if ours || !unlocked(path) {
			continue
		}
		if os.Remove(path) == nil {
			removed = append(removed, path)
			if StaleRemoved != nil {
				StaleRemoved(path)
			}
		}
	}
	return removed
}

// isPartialName reports whether name is prefix, digits and ".partial".
func isPartialName(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return false
	}
	digits, ok := strings.CutSuffix(rest, ".partial")
	if !ok || digits == "" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
