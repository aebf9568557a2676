package sqlite

import "time"

// fromNanos converts UTC nanoseconds since the epoch back to a UTC time;
// 0 is the zero time.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// nanosOrNow is t in UTC nanoseconds since the epoch, or now for the zero time.
func nanosOrNow(t time.Time) int64 {
	if t.IsZero() {
		return time.Now().UnixNano()
	}
	return t.UnixNano()
}

// blob makes b bindable to a NOT NULL BLOB column.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// unblob reads an empty BLOB back as nil.
func unblob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
