package harness

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// SimpleTree builds a deterministic tree of regular files, directories and
// symlinks with distinct modes and nanosecond mtimes under dir/src and
// returns its path.
func SimpleTree(t testing.TB, dir string) string {
	t.Helper()
	root := filepath.Join(dir, "src")
	rng := rand.New(rand.NewPCG(1, 2))
	files := []struct {
		name string
		size int
		mode os.FileMode
	}{
		{"a.txt", 12, 0o644},
		{"empty", 0, 0o600},
		{"big.bin", 3<<20 + 17, 0o640},
		{"dir one/with space.txt", 100, 0o444},
		{"dir one/nested/deep/file", 5000, 0o755},
		{"exec.sh", 40, 0o750},
	}
	for _, f := range files {
		p := filepath.Join(root, f.name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		b := make([]byte, f.size)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		must(t, os.WriteFile(p, b, 0o600))
		must(t, os.Chmod(p, f.mode))
	}
	must(t, os.MkdirAll(filepath.Join(root, "empty dir"), 0o711))
	must(t, os.Symlink("a.txt", filepath.Join(root, "link-to-a")))
	must(t, os.Symlink("/nonexistent/target", filepath.Join(root, "dir one/dangling")))
	// mtimes last, deepest first, so directory times stick
	base := time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type()&os.ModeSymlink == 0 && !d.IsDir() {
			base = base.Add(time.Hour + 7)
			must(t, os.Chtimes(p, base, base))
		}
		return nil
	})
	for i, d := range []string{"dir one/nested/deep", "dir one/nested", "dir one", "empty dir", "."} {
		ts := base.Add(time.Duration(i+1) * 1111111111)
		must(t, os.Chtimes(filepath.Join(root, d), ts, ts))
	}
	return root
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
