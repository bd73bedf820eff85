// Command ferry is the Ferry message broker and its command-line tools.
//
//	ferry serve                    run a broker (data in ./data, Kafka on 127.0.0.1:9092)
//	ferry topic create|list|describe|alter|delete
//	ferry produce | consume        lines in, records out
//	ferry group list|describe|delete|reset-offsets
//	ferry bench produce|consume    load generator for any Kafka-protocol broker
//	ferry version                  module version, VCS revision and Go version
//	ferry log verify               check partition logs on disk (offline)
//	ferry user create|delete|list  SCRAM users (SASL authentication)
//	ferry acl add|list|remove      ACL bindings (CreateAcls, DescribeAcls, DeleteAcls)
//	ferry cluster up|status        run N local nodes; show a cluster's health
//	ferry dlq list|show|redrive    dead letters of RocketMQ consumer groups
//	ferry message find --key K     where messages with key K are (RocketMQ index)
//	ferry schedule cancel          cancel scheduled records by key
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand: it gets its own arguments and the process's
// standard streams, and returns an error to print before exiting non-zero.
type command struct {
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"serve":    {"run a broker", runServe},
	"topic":    {"create, list, describe, alter, scale or delete topics", runTopic},
	"produce":  {"produce lines from stdin as records", runProduce},
	"consume":  {"print records from a topic", runConsume},
	"group":    {"list, describe, delete or reset-offsets of consumer groups", runGroup},
	"bench":    {"measure produce or consume throughput and latency", runBench},
	"version":  {"print the version of this binary", runVersion},
	"acl":      {"add, list or remove ACL bindings", runACL},
	"log":      {"verify partition logs on disk (offline)", runLog},
	"user":     {"create, delete or list SCRAM users", runUser},
	"cluster":  {"run a local cluster (up) or show a cluster's health (status)", runCluster},
	"dlq":      {"list, show or redrive dead letters of RocketMQ consumer groups", runDLQ},
	"message":  {"find where the messages with a key are (RocketMQ message index)", runMessage},
	"schedule": {"cancel scheduled (delayed) records by key", runSchedule},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	case "-version", "--version":
		// What most tools answer to; a newcomer tries it before reading the usage.
		args = append([]string{"version"}, args[1:]...)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ferry: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(args[1:], stdin, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var es *exitStatusError
		if errors.As(err, &es) {
			fmt.Fprintf(stderr, "ferry %s: %v\n", args[0], err)
			return es.status
		}
		fmt.Fprintf(stderr, "ferry %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ferry <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-8s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nrun 'ferry <command> -h' for a command's flags")
}

// exitStatusError is an error for which a command exits with a status of
// its own rather than 1, so scripts can tell "the command worked and found
// a problem" (`ferry cluster status` with offline partitions) from "the
// command failed".
type exitStatusError struct {
	status int
	msg    string
}

func (e *exitStatusError) Error() string { return e.msg }
