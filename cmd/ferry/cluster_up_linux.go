package main

import "syscall"

// childProcAttr puts a cluster node in a process group of its own, so a
// Ctrl-C at the terminal reaches only `cluster up`, which then stops the
// nodes in order; and it has Linux send the node SIGTERM should `cluster
// up` die without stopping it (kill -9), so no node outlives it.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
