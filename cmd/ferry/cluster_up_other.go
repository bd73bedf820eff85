//go:build !linux

package main

import "syscall"

// childProcAttr puts a cluster node in a process group of its own, so a
// Ctrl-C at the terminal reaches only `cluster up`, which then stops the
// nodes in order. (Only Linux can also stop the nodes when `cluster up` is
// killed with SIGKILL.)
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
