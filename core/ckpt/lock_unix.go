//go:build unix

package ckpt

import (
	"os"
	"syscall"
)

// lockPartial takes an exclusive advisory lock on a partial file for as long as this
// process keeps it open (the kernel drops it when the process ends, however it ends).
func lockPartial(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// unlocked reports whether no process holds a partial file's lock: its writer is gone.
func unlocked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}
