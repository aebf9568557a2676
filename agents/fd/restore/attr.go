package restore

import (
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/datapath"
)

// fdAttrs applies owner, mode and times to an open file or directory.
func (rv *receiver) fdAttrs(fd int, h *datapath.FileHeader) error {
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
	ts := times(h)
	if err := futimens(fd, &ts); err != nil {
		errs = append(errs, fmt.Errorf("set times: %w", err))
	}
	return errors.Join(errs...)
}

// nameAttrs applies owner, mode (if chmod) and times to name in dir without
// following a symlink.
func (rv *receiver) nameAttrs(dir int, name string, h *datapath.FileHeader, chmod bool) error {
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
	ts := times(h)
	if err := unix.UtimesNanoAt(dir, name, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		errs = append(errs, fmt.Errorf("set times: %w", err))
	}
	return errors.Join(errs...)
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
