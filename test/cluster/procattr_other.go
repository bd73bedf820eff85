//go:build !linux

package cluster

import "syscall"

// procAttr: without Pdeathsig, only the test's cleanup kills its nodes.
func procAttr() *syscall.SysProcAttr { return nil }
