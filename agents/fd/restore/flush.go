package restore

import (
	"sync"

	"golang.org/x/sys/unix"
)

// flushEvery is how much content the restore writes between two
// background syncfs calls.
const flushEvery = 32 << 20

// flusher starts the target's writeback while the restore goes on: every
// flushEvery bytes of content, unless one still runs, a goroutine calls
// syncfs. The disk then works while files are created instead of all at
// the end; the final syncfs (receiver.end) still waits for everything.
// A background call's error is kept for the final one: syncfs reports a
// writeback error once per open file.
type flusher struct {
	root    int
	pending int64 // content bytes since the last call started
	wg      sync.WaitGroup

	mu   sync.Mutex
	busy bool
	err  error
}

// wrote counts n bytes of content written.
func (f *flusher) wrote(n int) {
	f.pending += int64(n)
	if f.pending < flushEvery {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy {
		return
	}
	f.pending, f.busy = 0, true
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		err := unix.Syncfs(f.root)
		f.mu.Lock()
		f.busy = false
		if f.err == nil {
			f.err = err
		}
		f.mu.Unlock()
	}()
}

// wait waits for a call in flight and returns the first error seen.
func (f *flusher) wait() error {
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
