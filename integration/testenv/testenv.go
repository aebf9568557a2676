// Package testenv decides what a test does when the machine cannot run it.
// A test that needs root or network namespaces skips with a clear message on
// a developer's machine, but fails under FERRY_REQUIRE_ROOT=1 (set by
// .ci/run), so CI never skips such a test silently.
package testenv

import (
	"os"
	"testing"
)

// Required reports whether root-only tests must run (FERRY_REQUIRE_ROOT=1).
func Required() bool { return os.Getenv("FERRY_REQUIRE_ROOT") == "1" }

// SkipOrFail skips the test with why, or fails it when root tests are required.
func SkipOrFail(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s (FERRY_REQUIRE_ROOT=1: this test must run here)", why)
	}
	t.Skip(why)
}

// RequireRoot skips (or fails, under FERRY_REQUIRE_ROOT=1) unless running as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, "needs root")
	}
}
