//go:build linux

package log

import (
	"os"
	"syscall"
)

// fallocate allocates [off, off+n) of f with fallocate(2) mode 0, which also
// extends the file size to off+n if it is smaller (the new bytes read as zeros).
func fallocate(f *os.File, off, n int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Fallocate(int(fd), 0, off, n)
			if ferr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if ferr != nil {
		return os.NewSyscallError("fallocate", ferr)
	}
	return nil
}
