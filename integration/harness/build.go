package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Binaries are the programs the tests run.
type Binaries struct {
	Ferry      string
	NATSServer string
}

// Build compiles ferry and the nats-server of the pinned module into dir.
func Build(dir string) (Binaries, error) {
	root, err := moduleRoot()
	if err != nil {
		return Binaries{}, err
	}
	b := Binaries{Ferry: filepath.Join(dir, "ferry"), NATSServer: filepath.Join(dir, "nats-server")}
	for _, step := range []struct{ out, pkg string }{
		{b.Ferry, "./cmd/ferry"},
		{b.NATSServer, "github.com/nats-io/nats-server/v2"},
	} {
		cmd := exec.Command("go", "build", "-o", step.out, step.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return Binaries{}, fmt.Errorf("go build %s: %v\n%s", step.pkg, err, out)
		}
	}
	return b, nil
}

func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the module")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	return root, nil
}
