package bus

// Batcher splits a growing list into numbered chunks whose encoding stays
// under a byte budget (half the connection's max payload leaves room for the
// envelope and msgpack overhead that Size does not count).
type Batcher[T any] struct {
	budget int
	size   func(T) int
	flush  func(seq int, items []T) error
	items  []T
	bytes  int
	seq    int
}

// NewBatcher returns a Batcher that calls flush for each full chunk.
func NewBatcher[T any](c *Conn, size func(T) int, flush func(seq int, items []T) error) *Batcher[T] {
	return &Batcher[T]{budget: c.MaxPayload() / 2, size: size, flush: flush}
}

// Add appends v, flushing first if v would not fit.
func (b *Batcher[T]) Add(v T) error {
	n := b.size(v)
	if len(b.items) > 0 && b.bytes+n > b.budget {
		if err := b.Flush(); err != nil {
			return err
		}
	}
	b.items = append(b.items, v)
	b.bytes += n
	return nil
}

// Flush sends what is pending as one chunk.
func (b *Batcher[T]) Flush() error {
	if len(b.items) == 0 {
		return nil
	}
	if err := b.flush(b.seq, b.items); err != nil {
		return err
	}
	b.seq++
	b.items, b.bytes = nil, 0
	return nil
}

// Chunks is how many chunks were sent: the final count.
func (b *Batcher[T]) Chunks() int { return b.seq }
