// Package integration holds black-box tests of Ferry with real Kafka clients
// (franz-go and sarama) over TCP: against an in-process broker started with
// internal/server, and against a real `ferry serve` child process that the
// crash tests SIGKILL and restart. RocketMQ consumers whose client library
// races (orderly push, pull) run as test/rmqclient child processes built
// without -race (rocketmq_process_test.go).
//
// Run with: go test -race ./test/integration/
package integration
