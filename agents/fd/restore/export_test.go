package restore

// SetNoOpenat2 makes the restorer walk directories one component at a
// time, as on a kernel without openat2.
func SetNoOpenat2(v bool) { noOpenat2.Store(v) }

// SetNoLazyCreate makes the receiver create every file itself, the
// writers only finishing small files.
func SetNoLazyCreate(v bool) { noLazy.Store(v) }
