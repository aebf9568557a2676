package restore

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/datapath"
)

// fdAttrs applies owner, mode, extended attributes and times, in that
// order, to an open file or directory: chown clears file capabilities and
// chmod rewrites the ACL mask, so both go before the attributes. clean
// says the entry was just created in a directory without extended
// attributes: it holds none but the stored ones, and they are not listed.
func (rv *receiver) fdAttrs(fd int, h *datapath.FileHeader, xs []datapath.Xattr, clean bool) error {
	var errs []error
	mode := h.Mode & 0o7777
	if rv.chown {
		if err := unix.Fchown(fd, int(h.UID), int(h.GID)); err != nil {
			errs = append(errs, fmt.Errorf("chown: %w", err))
			mode &^= unix.S_ISUID | unix.S_ISGID // never setuid to the wrong owner
		}
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		errs = append(errs, fmt.Errorf("chmod: %w", err))
	}
	if !clean || len(xs) > 0 {
		errs = append(errs, rv.setXattrs(xattrTarget{fd: fd}, xs)...)
	}
	ts := times(h)
	if err := futimens(fd, &ts); err != nil {
		errs = append(errs, fmt.Errorf("set times: %w", err))
	}
	return errors.Join(errs...)
}

// nameAttrs applies owner, mode (if chmod), extended attributes and times
// to name in dir without following a symlink; clean as for fdAttrs.
func (rv *receiver) nameAttrs(dir int, name string, h *datapath.FileHeader, xs []datapath.Xattr, chmod, clean bool) error {
	var errs []error
	mode := h.Mode & 0o7777
	if rv.chown {
		if err := unix.Fchownat(dir, name, int(h.UID), int(h.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			errs = append(errs, fmt.Errorf("chown: %w", err))
			mode &^= unix.S_ISUID | unix.S_ISGID
		}
	}
	if chmod {
		if err := chmodNoFollow(dir, name, mode); err != nil {
			errs = append(errs, fmt.Errorf("chmod: %w", err))
		}
	}
	if !clean || len(xs) > 0 {
		errs = append(errs, rv.nameXattrs(dir, name, xs)...)
	}
	ts := times(h)
	if err := unix.UtimesNanoAt(dir, name, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		errs = append(errs, fmt.Errorf("set times: %w", err))
	}
	return errors.Join(errs...)
}

// nameXattrs sets the extended attributes of name in dir (a symlink, fifo
// or device, not opened for I/O) through an O_PATH descriptor.
func (rv *receiver) nameXattrs(dir int, name string, xs []datapath.Xattr) []error {
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return []error{fmt.Errorf("extended attributes: open: %w", err)}
	}
	defer unix.Close(fd)
	// The /proc/self/fd link leads to the O_PATH descriptor's inode and no
	// further, so the following calls reach the symlink itself (the
	// l*xattr calls would reach the /proc link's own attributes).
	return rv.setXattrs(xattrTarget{proc: "/proc/self/fd/" + strconv.Itoa(fd)}, xs)
}

// xattrTarget is where extended attributes are written: an open
// descriptor, or the /proc/self/fd path of an O_PATH one.
type xattrTarget struct {
	fd   int
	proc string
}

func (t xattrTarget) set(name string, value []byte) error {
	if t.proc != "" {
		return unix.Setxattr(t.proc, name, value, 0)
	}
	return unix.Fsetxattr(t.fd, name, value, 0)
}

func (t xattrTarget) list(dst []byte) (int, error) {
	if t.proc != "" {
		return unix.Listxattr(t.proc, dst)
	}
	return unix.Flistxattr(t.fd, dst)
}

func (t xattrTarget) remove(name string) error {
	if t.proc != "" {
		return unix.Removexattr(t.proc, name)
	}
	return unix.Fremovexattr(t.fd, name)
}

// setXattrs sets the stored attributes xs on t and removes those t holds
// that were not stored (inherited default ACLs, attributes of a replaced
// directory), the SELinux label excepted. Every refusal (a file system
// without extended attributes, user.* on a symlink, ...) is returned, to
// be warned about.
func (rv *receiver) setXattrs(t xattrTarget, xs []datapath.Xattr) []error {
	var errs []error
	for _, x := range xs {
		if err := t.set(string(x.Name), x.Value); err != nil {
			errs = append(errs, fmt.Errorf("extended attribute %q: %w", x.Name, err))
		}
	}
	names, err := rv.listXattrs(t)
	if err == unix.ENOTSUP { // none here: nothing to remove
		return errs
	}
	if err != nil {
		return append(errs, fmt.Errorf("list extended attributes: %w", err))
	}
	for name := range bytes.SplitSeq(names, []byte{0}) {
		if len(name) == 0 || string(name) == "security.selinux" || stored(xs, name) {
			continue
		}
		if err := t.remove(string(name)); err != nil && err != unix.ENODATA {
			errs = append(errs, fmt.Errorf("remove extended attribute %q: %w", name, err))
		}
	}
	return errs
}

// listXattrs returns the NUL-separated attribute names t holds, in the
// receiver's reused buffer.
func (rv *receiver) listXattrs(t xattrTarget) ([]byte, error) {
	if rv.xnames == nil {
		rv.xnames = make([]byte, 1024)
	}
	for range 8 {
		n, err := t.list(rv.xnames[:cap(rv.xnames)])
		if err != unix.ERANGE {
			if err != nil {
				return nil, err
			}
			return rv.xnames[:n], nil
		}
		if n, err = t.list(nil); err != nil {
			return nil, err
		}
		rv.xnames = make([]byte, n+256)
	}
	return nil, unix.ERANGE
}

func stored(xs []datapath.Xattr, name []byte) bool {
	for _, x := range xs {
		if bytes.Equal(x.Name, name) {
			return true
		}
	}
	return false
}

// cloneXattrs copies xs (which alias a record payload) into one new buffer.
func cloneXattrs(xs []datapath.Xattr) []datapath.Xattr {
	if len(xs) == 0 {
		return nil
	}
	n := 0
	for _, x := range xs {
		n += len(x.Name) + len(x.Value)
	}
	buf := make([]byte, 0, n)
	out := make([]datapath.Xattr, len(xs))
	for i, x := range xs {
		s := len(buf)
		buf = append(buf, x.Name...)
		m := len(buf)
		buf = append(buf, x.Value...)
		out[i] = datapath.Xattr{Name: buf[s:m:m], Value: buf[m:len(buf):len(buf)]}
	}
	return out
}

func times(h *datapath.FileHeader) [2]unix.Timespec {
	return [2]unix.Timespec{unix.NsecToTimespec(h.Atime), unix.NsecToTimespec(h.Mtime)}
}

// futimens sets the access and modification times of fd to the nanosecond.
func futimens(fd int, ts *[2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// chmodNoFollow changes the mode of name in dir, refusing a symlink. Without
// fchmodat2 it goes through an O_PATH descriptor, as the C library does.
func chmodNoFollow(dir int, name string, mode uint32) error {
	err := unix.Fchmodat(dir, name, mode, unix.AT_SYMLINK_NOFOLLOW)
	if err != unix.EOPNOTSUPP && err != unix.ENOSYS {
		return err
	}
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return unix.ELOOP
	}
	return unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode)
}
