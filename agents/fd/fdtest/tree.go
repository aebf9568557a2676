// Package fdtest holds helpers for the file daemon's tests and benchmarks.
package fdtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
)

// WriteSmallTree writes dirs folders (d000, d001, …) of files files each
// under root, of sizes 0 to 64 KiB (exponential, mean near 8 KiB, slices
// of one random block), the same tree for the same arguments, and returns
// the number of files.
func WriteSmallTree(tb testing.TB, root string, dirs, files int) int {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	for d := range dirs {
		dir := fmt.Sprintf("%s/d%03d", root, d)
		if err := os.Mkdir(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		for f := range files {
			size := min(int(rng.ExpFloat64()*8192), len(buf))
			off := rng.IntN(len(buf) - size + 1)
			if err := os.WriteFile(fmt.Sprintf("%s/f%03d", dir, f), buf[off:off+size], 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return dirs * files
}
