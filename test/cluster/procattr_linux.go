package cluster

import "syscall"

// procAttr makes the kernel SIGKILL a node when the test process dies
// without its cleanup (a -timeout panic, a crash), so no broker outlives
// the test that started it.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
