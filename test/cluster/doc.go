// Package cluster runs a Ferry cluster as real `ferry serve` processes on
// loopback, for tests only: it calls `go build`, starts child processes,
// and reports through testing.TB. Nothing outside test/ may import it.
//
// Start builds ./cmd/ferry once per test binary (call RemoveBinary from
// TestMain to delete it), picks free loopback ports, and starts N nodes
// that form one controller quorum (--node-id, --controller-addr,
// --controller-quorum, --kafka-addr, --http-addr, --data-dir). A node keeps its ports and
// its data dir for the life of the Cluster, so Restart brings back the same
// broker at the same address. Faults are signals sent to that one pid:
//
//	Kill(i)     SIGKILL, waits for the exit (a crash: no clean shutdown)
//	Stop(i)     SIGSTOP (a paused process: sockets open, nothing answers)
//	Cont(i)     SIGCONT
//	Restart(i)  starts the node again on its data dir; waits until it serves
//	Launch(i)   starts it again without waiting (to kill it during recovery)
//	Shutdown(i) SIGTERM, waits for a clean exit
//
// Every node's stderr is appended to <dir>/node-<id>.log across restarts.
// At cleanup every process still running is resumed and killed; if the
// test failed, the last lines of each node's log are printed and the
// cluster's directory (logs and data) is kept, else it is removed.
//
// Ports: Linux hands out ephemeral ports (ip_local_port_range, usually
// 32768-60999) to outgoing connections, which could take a stopped node's
// port before it restarts. Ports are therefore picked at random below that
// range, checked free with a listen, and never handed out twice by one
// test binary; a start that still loses the race ("address already in
// use") is retried with new ports.
package cluster
