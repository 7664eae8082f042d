package merge

import (
	"fmt"
	"runtime/debug"
)

// FaultError reports a memory fault while a method read its inputs. The executor
// hands methods float32 inputs memory-mapped from their files; when another program
// truncates such a file during the merge, reading the vanished pages raises SIGBUS,
// which would kill the process. Merge and its goroutines run with
// debug.SetPanicOnFault, so the fault becomes this error instead, and the executor,
// which knows which file holds the faulting address, names the file and the tensor.
type FaultError struct {
	Addr uintptr // the faulting address
}

func (e *FaultError) Error() string {
	return fmt.Sprintf("memory fault reading an input at %#x: did an input file change during the merge?", e.Addr)
}

// asFault turns a recovered panic value that is a memory fault into a FaultError.
func asFault(r any) (*FaultError, bool) {
	if f, ok := r.(interface{ Addr() uintptr }); ok {
		return &FaultError{Addr: f.Addr()}, true
	}
	return nil, false
}

// panicOnFault makes a memory fault on this goroutine a recoverable panic until the
// returned function restores the previous setting.
func panicOnFault() (restore func()) {
	old := debug.SetPanicOnFault(true)
	return func() { debug.SetPanicOnFault(old) }
}
