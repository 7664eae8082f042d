//go:build unix

package edgebuild

import (
	"os/exec"
	"syscall"
)

// newProcessGroup starts cmd in a process group of its own, so that stopGroup reaches
// the processes it starts (wrangler starts esbuild and workerd).
func newProcessGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// stopGroup signals cmd's process group: SIGTERM, or SIGKILL when kill is set.
func stopGroup(cmd *exec.Cmd, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	syscall.Kill(-cmd.Process.Pid, sig)
}
