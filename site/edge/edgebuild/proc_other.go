//go:build !unix

package edgebuild

import "os/exec"

func newProcessGroup(*exec.Cmd) {}

// stopGroup ends cmd; the processes it started may outlive it where there are no
// process groups.
func stopGroup(cmd *exec.Cmd, _ bool) { cmd.Process.Kill() }
