package backup

import (
	"fmt"
	"testing"

	"github.com/zeebo/blake3"
)

// BenchmarkContentHash is the checksum of a file's content as the
// readers take it (one BLAKE3 hasher per reader, reset for every file),
// by file size.
func BenchmarkContentHash(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			p := pattern(size, 7)
			h := blake3.New()
			var sum [32]byte
			b.SetBytes(int64(size))
			for b.Loop() {
				h.Reset()
				h.Write(p)
				h.Sum(sum[:0])
			}
		})
	}
}
