package kafka

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/ferry-mq/ferry/internal/log"
)

// sendFile copies a file section to the connection. On a TCP connection it
// uses sendfile(2) with an explicit offset, so the bytes go from the page
// cache to the socket without passing through user space and concurrent
// readers of one file never share a file position.
func sendFile(c net.Conn, s log.Slice) error {
	tc, ok := c.(*net.TCPConn)
	f, isFile := s.File.(*os.File)
	if !ok || !isFile {
		// Not a socket, or not an OS file (a test's file system): copy.
		return copySection(c, s)
	}
	src, err := f.SyscallConn()
	if err != nil {
		return copySection(c, s)
	}
	dst, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	ctlErr := src.Control(func(in uintptr) {
		off, remain := s.Pos, s.Size
		werr := dst.Write(func(out uintptr) bool {
			for remain > 0 {
				chunk := remain
				if chunk > 1<<30 {
					chunk = 1 << 30
				}
				n, err := syscall.Sendfile(int(out), int(in), &off, int(chunk))
				if n > 0 {
					remain -= int64(n)
				}
				switch {
				case errors.Is(err, syscall.EAGAIN):
					return false // wait until the socket is writable
				case errors.Is(err, syscall.EINTR):
					continue
				case err != nil:
					sendErr = err
					return true
				case n == 0:
					sendErr = fmt.Errorf("sendfile: file ended %d bytes early (truncated under a reader?)", remain)
					return true
				}
			}
			return true
		})
		if sendErr == nil {
			sendErr = werr
		}
	})
	if ctlErr != nil {
		return ctlErr
	}
	return sendErr
}

// sendSection writes a file section after the bytes buffered in w. On a
// plain TCP connection that is sendfile, after a flush. On any other (TLS
// above all: its records are encrypted in user space, so the bytes pass
// through memory anyway) the section is read into the write buffer, which
// fills whole TLS records and allocates nothing.
func (w *replyWriter) sendSection(s log.Slice) error {
	if _, ok := w.conn.(*net.TCPConn); !ok {
		n, err := w.bw.ReadFrom(io.NewSectionReader(s.File, s.Pos, s.Size))
		if err == nil && n != s.Size {
			err = fmt.Errorf("file section ended after %d of %d bytes", n, s.Size)
		}
		return err
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	return sendFile(w.conn, s)
}

func copySection(w io.Writer, s log.Slice) error {
	n, err := io.Copy(w, io.NewSectionReader(s.File, s.Pos, s.Size))
	if err == nil && n != s.Size {
		err = fmt.Errorf("file section ended after %d of %d bytes", n, s.Size)
	}
	return err
}
