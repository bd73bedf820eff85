// Package errorfs wraps a vfs.FS and injects errors into chosen operations,
// for tests of what the log does when the disk misbehaves: a failed fsync, a
// write that stops half-way with ENOSPC, a failed rename.
package errorfs

import (
	"os"
	"sync"
	"syscall"

	"github.com/ferry-mq/ferry/internal/vfs"
)

// Op is a kind of file-system operation.
type Op int

const (
	OpOpen Op = iota
	OpRead
	OpWrite
	OpSync
	OpTruncate
	OpStat
	OpRemove
	OpRename
	OpMkdir
	OpReadDir
	OpSyncDir
)

var opNames = [...]string{"open", "read", "write", "sync", "truncate", "stat", "remove", "rename", "mkdir", "readdir", "syncdir"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "op?"
}

// ENOSPC is the error of a full disk.
var ENOSPC error = syscall.ENOSPC

// Rule says which operations fail and how. The zero Path matches every path.
type Rule struct {
	Op   Op
	Path func(path string) bool // nil: any path (for rename, the old name)
	Err  error                  // the error returned; nil means syscall.EIO
	// Short makes a failing write write half of its bytes first, as a write
	// that runs out of space part-way does.
	Short bool
	// Skip lets the first Skip matching operations through; Times limits how
	// many fail after that (0: all of them).
	Skip, Times int

	seen, failed int
}

// FS is a vfs.FS that fails operations matching its rules.
type FS struct {
	inner vfs.FS

	mu       sync.Mutex
	rules    []*Rule
	injected int
}

// New wraps inner.
func New(inner vfs.FS) *FS { return &FS{inner: inner} }

// Add installs a rule; it applies until Reset.
func (fs *FS) Add(r Rule) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	rr := r
	fs.rules = append(fs.rules, &rr)
}

// Reset removes every rule: the file system works again.
func (fs *FS) Reset() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rules = nil
}

// Injected is the number of errors injected so far.
func (fs *FS) Injected() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.injected
}

// check returns the rule that makes op on path fail, or nil.
func (fs *FS) check(op Op, path string) *Rule {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, r := range fs.rules {
		if r.Op != op || (r.Path != nil && !r.Path(path)) {
			continue
		}
		r.seen++
		if r.seen <= r.Skip || (r.Times > 0 && r.failed >= r.Times) {
			continue
		}
		r.failed++
		fs.injected++
		return r
	}
	return nil
}

func (r *Rule) err(op Op, path string) error {
	err := r.Err
	if err == nil {
		err = syscall.EIO
	}
	return &os.PathError{Op: "injected " + op.String(), Path: path, Err: err}
}

func (fs *FS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	if r := fs.check(OpOpen, name); r != nil {
		return nil, r.err(OpOpen, name)
	}
	f, err := fs.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &file{File: f, fs: fs}, nil
}

func (fs *FS) Remove(name string) error {
	if r := fs.check(OpRemove, name); r != nil {
		return r.err(OpRemove, name)
	}
	return fs.inner.Remove(name)
}

func (fs *FS) Rename(oldname, newname string) error {
	if r := fs.check(OpRename, oldname); r != nil {
		return r.err(OpRename, oldname)
	}
	return fs.inner.Rename(oldname, newname)
}

func (fs *FS) MkdirAll(dir string, perm os.FileMode) error {
	if r := fs.check(OpMkdir, dir); r != nil {
		return r.err(OpMkdir, dir)
	}
	return fs.inner.MkdirAll(dir, perm)
}

func (fs *FS) ReadDir(dir string) ([]os.DirEntry, error) {
	if r := fs.check(OpReadDir, dir); r != nil {
		return nil, r.err(OpReadDir, dir)
	}
	return fs.inner.ReadDir(dir)
}

func (fs *FS) Stat(name string) (os.FileInfo, error) {
	if r := fs.check(OpStat, name); r != nil {
		return nil, r.err(OpStat, name)
	}
	return fs.inner.Stat(name)
}

func (fs *FS) SyncDir(dir string) error {
	if r := fs.check(OpSyncDir, dir); r != nil {
		return r.err(OpSyncDir, dir)
	}
	return fs.inner.SyncDir(dir)
}

// file injects errors into the operations on one open file.
type file struct {
	vfs.File
	fs *FS
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if r := f.fs.check(OpRead, f.Name()); r != nil {
		return 0, r.err(OpRead, f.Name())
	}
	return f.File.ReadAt(p, off)
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if r := f.fs.check(OpWrite, f.Name()); r != nil {
		n := 0
		if r.Short && len(p) > 1 {
			n, _ = f.File.WriteAt(p[:len(p)/2], off)
		}
		return n, r.err(OpWrite, f.Name())
	}
	return f.File.WriteAt(p, off)
}

func (f *file) Write(p []byte) (int, error) {
	if r := f.fs.check(OpWrite, f.Name()); r != nil {
		n := 0
		if r.Short && len(p) > 1 {
			n, _ = f.File.Write(p[:len(p)/2])
		}
		return n, r.err(OpWrite, f.Name())
	}
	return f.File.Write(p)
}

func (f *file) Sync() error {
	if r := f.fs.check(OpSync, f.Name()); r != nil {
		return r.err(OpSync, f.Name())
	}
	return f.File.Sync()
}

func (f *file) Truncate(size int64) error {
	if r := f.fs.check(OpTruncate, f.Name()); r != nil {
		return r.err(OpTruncate, f.Name())
	}
	return f.File.Truncate(size)
}

func (f *file) Stat() (os.FileInfo, error) {
	if r := f.fs.check(OpStat, f.Name()); r != nil {
		return nil, r.err(OpStat, f.Name())
	}
	return f.File.Stat()
}
