package integration

import (
	"fmt"
	"os"
	"testing"

	"github.com/ferrybackup/ferry/integration/harness"
)

var bin harness.Binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ferry-it-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin, err = harness.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
