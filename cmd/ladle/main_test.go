package main

import (
	"os"
	"os/exec"
	"testing"
)

// asLadleEnv makes the test binary run as the ladle command (see TestMain), so that
// tests can start a real ladle process, send it signals and watch it die.
const asLadleEnv = "LADLE_TEST_RUN_AS_LADLE"

func TestMain(m *testing.M) {
	if os.Getenv(asLadleEnv) == "1" {
		os.Args = append([]string{"ladle"}, os.Args[1:]...)
		main()
		return
	}
	os.Exit(m.Run())
}

// ladleProcess prepares a child ladle process (this test binary re-executed) with the
// given extra environment.
func ladleProcess(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(append(os.Environ(), asLadleEnv+"=1"), env...)
	return cmd
}
