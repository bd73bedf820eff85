// Package integration holds black-box tests of Ferry with real Kafka clients
// (franz-go and sarama) over TCP: against an in-process broker started with
// internal/server, and against a real `ferry serve` child process that the
// crash tests SIGKILL and restart.
//
// Run with: go test -race ./test/integration/
package integration
