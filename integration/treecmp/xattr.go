//go:build linux

package treecmp

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// xattrSource reads the extended attributes of one inode.
type xattrSource interface {
	list(buf []byte) (int, error)
	get(name string, buf []byte) (int, error)
}

// fdXattrs reads through a regular (non-O_PATH) descriptor.
type fdXattrs struct{ fd int }

func (s fdXattrs) list(buf []byte) (int, error) { return unix.Flistxattr(s.fd, buf) }
func (s fdXattrs) get(name string, buf []byte) (int, error) {
	return unix.Fgetxattr(s.fd, name, buf)
}

// procXattrs reads through /proc/self/fd/N of an O_PATH|O_NOFOLLOW
// descriptor. The kernel resolves that magic link to the inode the
// descriptor holds (for a symlink: the symlink itself, not its target), so
// the following getxattr/listxattr calls address exactly that inode, without
// a path that could exceed PATH_MAX. This is how xattrs of symlinks, fifos,
// sockets and device nodes are read (opening those for real is either
// impossible or has side effects); fgetxattr refuses O_PATH descriptors.
type procXattrs struct{ path string }

func (s procXattrs) list(buf []byte) (int, error) { return unix.Listxattr(s.path, buf) }
func (s procXattrs) get(name string, buf []byte) (int, error) {
	return unix.Getxattr(s.path, name, buf)
}

// pathXattrs compares the xattrs of an entry that is not opened for reading.
func (c *comparer) pathXattrs(dirA, dirB int, name string, rel []byte) {
	if !c.opt.Xattrs {
		return
	}
	fdA, errA := openAt(dirA, name, unix.O_PATH)
	fdB, errB := openAt(dirB, name, unix.O_PATH)
	if fdA >= 0 {
		defer unix.Close(fdA)
	}
	if fdB >= 0 {
		defer unix.Close(fdB)
	}
	if errA != nil || errB != nil {
		c.addErr(rel, errA, errB)
		return
	}
	c.cmpXattrs(rel,
		procXattrs{"/proc/self/fd/" + strconv.Itoa(fdA)},
		procXattrs{"/proc/self/fd/" + strconv.Itoa(fdB)})
}

// readXattrBuf calls f with a growing buffer until the value fits.
func readXattrBuf(f func([]byte) (int, error)) ([]byte, error) {
	for {
		n, err := f(nil) // size query
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return []byte{}, nil
		}
		buf := make([]byte, n+64)
		m, err := f(buf)
		if err == unix.ERANGE {
			continue // grew between the two calls
		}
		if err != nil {
			return nil, err
		}
		return buf[:m], nil
	}
}

const ignoredXattr = "security.selinux"

func listXattrs(s xattrSource) ([]string, error) {
	raw, err := readXattrBuf(s.list)
	if err == unix.ENOTSUP {
		return nil, nil // filesystem without xattrs: the empty set
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range bytes.Split(raw, []byte{0}) {
		if len(n) > 0 && string(n) != ignoredXattr {
			names = append(names, string(n))
		}
	}
	slices.Sort(names)
	return names, nil
}

func fmtXattr(name string, val []byte) string {
	return fmt.Sprintf("%q=%q", name, val)
}

func (c *comparer) cmpXattrs(rel []byte, a, b xattrSource) {
	namesA, errA := listXattrs(a)
	namesB, errB := listXattrs(b)
	if errA != nil || errB != nil {
		c.addErr(rel, errA, errB)
		return
	}
	i, j := 0, 0
	for i < len(namesA) || j < len(namesB) {
		switch {
		case j >= len(namesB) || (i < len(namesA) && namesA[i] < namesB[j]):
			c.add(rel, "xattr", fmtXattr(namesA[i], c.xattrValue(a, namesA[i])), fmt.Sprintf("%q absent", namesA[i]))
			i++
		case i >= len(namesA) || namesB[j] < namesA[i]:
			c.add(rel, "xattr", fmt.Sprintf("%q absent", namesB[j]), fmtXattr(namesB[j], c.xattrValue(b, namesB[j])))
			j++
		default:
			name := namesA[i]
			i++
			j++
			va, errA := readXattrBuf(func(buf []byte) (int, error) { return a.get(name, buf) })
			vb, errB := readXattrBuf(func(buf []byte) (int, error) { return b.get(name, buf) })
			if errA != nil || errB != nil {
				c.add(rel, "error", "xattr "+name+": "+errString(errA), "xattr "+name+": "+errString(errB))
				continue
			}
			if !bytes.Equal(va, vb) {
				c.add(rel, "xattr", fmtXattr(name, va), fmtXattr(name, vb))
			}
		}
	}
}

// xattrValue is for reporting only; a read failure is shown in place.
func (c *comparer) xattrValue(s xattrSource, name string) []byte {
	v, err := readXattrBuf(func(buf []byte) (int, error) { return s.get(name, buf) })
	if err != nil {
		return []byte("<" + err.Error() + ">")
	}
	return v
}
