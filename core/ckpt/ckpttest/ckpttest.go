// Package ckpttest helps tests find the shared third-party fixtures and make
// checkpoints of their own. It is imported only by tests.
package ckpttest

import (
	"os"
	"path/filepath"
	"testing"
)

// FixturesDir returns the folder of real third-party checkpoints (../shared/fixtures
// beside the repository, or $LADLE_FIXTURES), and skips the test with a message
// when it is absent, as it is in a plain clone.
func FixturesDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("LADLE_FIXTURES")
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			tb.Skipf("fixtures: %v", err)
		}
		dir = filepath.Join(root, "..", "shared", "fixtures")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		tb.Skipf("the third-party fixtures folder %s is absent (it sits beside the repository in CI; set LADLE_FIXTURES to point elsewhere)", dir)
	}
	return dir
}

// Fixture returns the path of a file under the fixtures folder, skipping as FixturesDir does.
func Fixture(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(FixturesDir(tb), rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("fixture %s is absent: %v", p, err)
	}
	return p
}

// RepoRoot finds the module root by walking up from the working directory to go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
