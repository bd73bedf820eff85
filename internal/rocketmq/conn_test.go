package rocketmq

import "testing"

// TestLaterNeverDeadlocks: more Later requests than the semaphore holds,
// all handled before the reader looks at its socket again, still run.
func TestLaterNeverDeadlocks(t *testing.T) {
	c := &Conn{closed: make(chan struct{}), later: make(chan struct{}, 4), out: make(chan *Command, 100)}
	done := make(chan struct{}, 10)
	for range 10 {
		c.Later(&Command{Flag: flagOneway}, func() *Command { done <- struct{}{}; return nil })
	}
	c.startHeld()
	for range 10 {
		<-done
	}
}
