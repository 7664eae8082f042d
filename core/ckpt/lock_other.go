//go:build !unix

package ckpt

import "os"

// lockPartial does nothing where flock is unavailable.
func lockPartial(*os.File) {}

// unlocked cannot tell a live writer from a dead one here, so it never lets a sweep
// remove a partial file.
func unlocked(string) bool { return false }
