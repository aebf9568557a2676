package sqlite

import "time"

// nanos converts t to UTC nanoseconds since the epoch; the zero time is 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos; it returns UTC times.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// nanosOrNow is nanos with the zero time replaced by now.
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
