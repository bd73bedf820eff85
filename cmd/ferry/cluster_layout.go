package main

// The layout of a local cluster made by `ferry cluster up`: how many nodes,
// which ports, which directories. It is saved in D/cluster.json at the
// first start because a Raft quorum's addresses cannot change afterwards:
// running `ferry cluster up` on D again must start the same nodes on the
// same ports.
//
// Ports, for node i (1..N) and base port B:
//
//	Kafka listener       B + i - 1        (the bootstrap list)
//	controller (Raft)    B + 100 + i - 1
//	HTTP (if serve has --http-addr)  B + 200 + i - 1
//	RocketMQ (NameServer and broker) B + 784 + i - 1  (9876 for node 1 at B=9092)
//
// so N is at most 100 and the ranges never overlap. Every node keeps the
// same distance between its Kafka and RocketMQ ports, which is how a node
// names its peers' RocketMQ addresses in routes (internal/rocketmq).
//
// Directories: D/cluster.json, and D/node-i/ as node i's --data-dir, with
// the node's output (stdout and stderr) appended to D/node-i/ferry.log.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-mq/ferry/internal/config"
)

const (
	layoutFile = "cluster.json"
	nodeLog    = "ferry.log"

	// Offsets of the controller and HTTP port ranges from the base port.
	controllerPortOffset = 100
	httpPortOffset       = 200
	// rocketmqPortOffset puts node 1's RocketMQ listener on RocketMQ's
	// usual NameServer port, 9876, at the default base port 9092.
	rocketmqPortOffset = 9876 - 9092
	maxClusterNodes    = 100
)

// clusterLayout is what D/cluster.json holds.
type clusterLayout struct {
	Nodes    int `json:"nodes"`
	BasePort int `json:"base_port"`
}

// nodeAddrs are the listen addresses of one node.
type nodeAddrs struct {
	kafka, controller, http, rocketmq string
}

func (l clusterLayout) validate() error {
	if l.Nodes < 1 || l.Nodes > maxClusterNodes {
		return fmt.Errorf("--nodes %d is not valid: use 1 to %d", l.Nodes, maxClusterNodes)
	}
	if last := l.BasePort + rocketmqPortOffset + l.Nodes - 1; l.BasePort < 1 || last > 65535 {
		return fmt.Errorf("--base-port %d is not valid for %d nodes: the cluster uses ports %d-%d (Kafka), %d-%d (controllers), %d-%d (HTTP) and %d-%d (RocketMQ), which must lie within 1-65535",
			l.BasePort, l.Nodes, l.BasePort, l.BasePort+l.Nodes-1,
			l.BasePort+controllerPortOffset, l.BasePort+controllerPortOffset+l.Nodes-1,
			l.BasePort+httpPortOffset, l.BasePort+httpPortOffset+l.Nodes-1,
			l.BasePort+rocketmqPortOffset, last)
	}
	return nil
}

// addrs returns node id's addresses (id from 1).
func (l clusterLayout) addrs(id int) nodeAddrs {
	at := func(offset int) string {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(l.BasePort+offset+id-1))
	}
	return nodeAddrs{kafka: at(0), controller: at(controllerPortOffset), http: at(httpPortOffset), rocketmq: at(rocketmqPortOffset)}
}

// bootstrap is every node's Kafka address, comma-separated.
func (l clusterLayout) bootstrap() string {
	s := make([]string, l.Nodes)
	for i := range s {
		s[i] = l.addrs(i + 1).kafka
	}
	return strings.Join(s, ",")
}

// nameServers is every node's RocketMQ address, ';'-separated as
// RocketMQ clients take a NameServer list.
func (l clusterLayout) nameServers() string {
	s := make([]string, l.Nodes)
	for i := range s {
		s[i] = l.addrs(i + 1).rocketmq
	}
	return strings.Join(s, ";")
}

// quorum is the --controller-quorum value: every node is a voter.
func (l clusterLayout) quorum() string {
	s := make([]string, l.Nodes)
	for i := range s {
		s[i] = fmt.Sprintf("%d@%s", i+1, l.addrs(i+1).controller)
	}
	return strings.Join(s, ",")
}

// serveArgs are the `ferry serve` arguments of node id, with extra (the
// user's own serve flags) last.
func (l clusterLayout) serveArgs(dir string, id int, withHTTP bool, extra []string) []string {
	a := l.addrs(id)
	args := []string{"serve",
		"--node-id", strconv.Itoa(id),
		"--data-dir", nodeDir(dir, id),
		"--kafka-addr", a.kafka,
		"--controller-addr", a.controller,
		"--controller-quorum", l.quorum(),
	}
	if !rocketMQOff(extra) {
		args = append(args, "--rocketmq-addr", a.rocketmq)
	}
	if withHTTP {
		args = append(args, "--http-addr", a.http)
	}
	return append(args, extra...)
}

func nodeDir(dir string, id int) string { return filepath.Join(dir, fmt.Sprintf("node-%d", id)) }

// resolveLayout returns the layout of the cluster in dir: the saved one if
// dir holds a cluster already (a flag given explicitly must agree with
// it), else the flags' one, with fresh true: save it (saveLayout) once
// the cluster can start. A dir that holds something else is refused
// rather than mixed with a cluster.
func resolveLayout(dir string, flags clusterLayout, nodesSet, baseSet bool) (l clusterLayout, fresh bool, err error) {
	path := filepath.Join(dir, layoutFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var saved clusterLayout
		if err := json.Unmarshal(b, &saved); err != nil {
			return clusterLayout{}, false, fmt.Errorf("%s is damaged (%v): fix it or use another --data-dir", path, err)
		}
		if err := saved.validate(); err != nil {
			return clusterLayout{}, false, fmt.Errorf("%s: %v", path, err)
		}
		if (nodesSet && flags.Nodes != saved.Nodes) || (baseSet && flags.BasePort != saved.BasePort) {
			return clusterLayout{}, false, fmt.Errorf("%s was made with --nodes %d --base-port %d; a controller quorum's members and addresses cannot change, so run it with those (or no) flags, or use another --data-dir",
				dir, saved.Nodes, saved.BasePort)
		}
		return saved, false, nil
	case !errors.Is(err, os.ErrNotExist):
		return clusterLayout{}, false, err
	}
	if err := flags.validate(); err != nil {
		return clusterLayout{}, false, err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return clusterLayout{}, false, fmt.Errorf("%s is not empty and has no %s, so it is no cluster made by `ferry cluster up`: use an empty or new --data-dir", dir, layoutFile)
	}
	return flags, true, nil
}

// saveLayout writes l to dir/cluster.json, making dir if need be.
func saveLayout(dir string, l clusterLayout) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, layoutFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("saving the cluster's layout: %w", err)
	}
	return nil
}

// checkPortsFree listens on each port the cluster will use and closes it
// again, so a port in use fails here with its name instead of in a child.
func (l clusterLayout) checkPortsFree(withHTTP bool) error {
	for id := 1; id <= l.Nodes; id++ {
		a := l.addrs(id)
		ports := []struct{ role, addr string }{{"Kafka", a.kafka}, {"controller", a.controller}, {"RocketMQ", a.rocketmq}}
		if withHTTP {
			ports = append(ports, struct{ role, addr string }{"HTTP", a.http})
		}
		for _, p := range ports {
			ln, err := net.Listen("tcp", p.addr)
			if err != nil {
				return fmt.Errorf("%s port of node %d, %s, is in use (%v): stop what holds it or choose another --base-port (a new --data-dir then)", p.role, id, p.addr, err)
			}
			ln.Close()
		}
	}
	return nil
}

// managedServeFlags are the serve flags `cluster up` sets for each node,
// and perNodeServeFlags those that need a value per node, which it does
// not give out: the user's extra serve flags may set neither, and the
// FERRY_* variables of both are kept from the nodes' environment.
var (
	managedServeFlags = []string{"node-id", "data-dir", "kafka-addr", "controller-addr", "controller-quorum", "http-addr", "rocketmq-addr"}
	perNodeServeFlags = []string{"advertised-addr", "kafka-tls-addr", "advertised-tls-addr", "pprof-addr", "rocketmq-advertised-addr"}
	clusterServeFlags = append(slices.Clone(managedServeFlags), perNodeServeFlags...)
)

// checkExtraServeFlags refuses extra serve flags that would override the
// ones cluster up manages or that would give every node the same address.
func checkExtraServeFlags(extra []string) error {
	for _, a := range extra {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if slices.Contains(managedServeFlags, name) {
			return fmt.Errorf("serve flag --%s is set by `ferry cluster up` for each node; leave it out", name)
		}
		if slices.Contains(perNodeServeFlags, name) {
			return fmt.Errorf("serve flag --%s would give every node the same address; `ferry cluster up` cannot set it per node, so leave it out", name)
		}
	}
	return nil
}

// nodeEnv is env without the FERRY_* variables of clusterServeFlags: one
// set for the user's own `ferry serve` (FERRY_PPROF_ADDR) would give every
// node the same address.
func nodeEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, f := range clusterServeFlags {
			if name == "FERRY_"+strings.ToUpper(strings.ReplaceAll(f, "-", "_")) {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// rocketMQOff reports whether the nodes' own serve flags (or FERRY_*
// variables) turn on Kafka security, beside which `ferry serve` refuses
// the RocketMQ listener (it has no authentication yet): the nodes then
// run without it.
func rocketMQOff(extra []string) bool {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg := config.Default()
	cfg.Flags(fs)
	config.ApplyEnv(fs) // a bad value is the node's to report
	fs.Parse(extra)
	return cfg.AuthorizationEnforced()
}

// serveHasFlag reports whether `ferry serve` takes --name.
func serveHasFlag(name string) bool {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg := config.Default()
	cfg.Flags(fs)
	return fs.Lookup(name) != nil
}
