// Command kfakeserve runs franz-go's in-memory fake Kafka cluster (kfake) on
// a fixed address. It is the baseline that BENCHMARKS.md compares Ferry
// against: the same `ferry bench` run against both in one session.
//
//	go run ./tools/kfakeserve --addr 127.0.0.1:19093
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:19093", "listen address")
	flag.Parse()
	port, err := portOf(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfakeserve: --addr must be host:port")
		os.Exit(2)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfakeserve:", err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Println("kfake listening on", c.ListenAddrs())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}

func portOf(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}
