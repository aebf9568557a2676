package sd

import (
	"context"
	"sync"

	"github.com/ferrybackup/ferry/schemas"
)

// chunkQueue is how many file-list chunks may wait behind the one being
// delivered. Each is at most half the bus's max payload.
const chunkQueue = 3

// chunkSender delivers the file-list chunks of one backup to the director
// from its own goroutine, in order, one at a time, so the data stream is
// not held up while the director stores a chunk in the catalog. Chunks are
// numbered and the director stages them idempotently; the backup is
// reported OK only after wait has seen every chunk acknowledged.
type chunkSender struct {
	deliver func(ctx context.Context, seq int, files []schemas.FileEntry) error
	ctx     context.Context
	cancel  context.CancelFunc
	queue   chan fileChunk
	done    chan struct{}
	once    sync.Once
	err     error // first delivery error; read after done is closed
}

type fileChunk struct {
	seq   int
	files []schemas.FileEntry
}

func newChunkSender(ctx context.Context, deliver func(ctx context.Context, seq int, files []schemas.FileEntry) error) *chunkSender {
	cs := &chunkSender{deliver: deliver, queue: make(chan fileChunk, chunkQueue), done: make(chan struct{})}
	cs.ctx, cs.cancel = context.WithCancel(ctx)
	go cs.run()
	return cs
}

func (cs *chunkSender) run() {
	defer close(cs.done)
	for c := range cs.queue {
		if err := cs.deliver(cs.ctx, c.seq, c.files); err != nil {
			cs.err = err
			cs.cancel() // queued chunks are dropped: the backup fails
			return
		}
	}
}

// send queues a chunk (the Batcher does not reuse files); it blocks while
// the queue is full and fails once a delivery failed.
func (cs *chunkSender) send(seq int, files []schemas.FileEntry) error {
	select {
	case <-cs.done: // a delivery failed
		return cs.err
	default:
	}
	select {
	case cs.queue <- fileChunk{seq: seq, files: files}:
		return nil
	case <-cs.done:
		return cs.err
	case <-cs.ctx.Done():
		return cs.ctx.Err()
	}
}

// wait returns once every queued chunk is delivered, with the first error.
func (cs *chunkSender) wait() error {
	cs.once.Do(func() { close(cs.queue) })
	<-cs.done
	cs.cancel()
	return cs.err
}

// stop abandons the chunks not delivered yet (the backup failed).
func (cs *chunkSender) stop() {
	cs.cancel()
	_ = cs.wait()
}
