package main

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestClusterLayoutPorts(t *testing.T) {
	l := clusterLayout{Nodes: 3, BasePort: 9092}
	if err := l.validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := l.bootstrap(), "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094"; got != want {
		t.Errorf("bootstrap %q, want %q", got, want)
	}
	if got, want := l.quorum(), "1@127.0.0.1:9192,2@127.0.0.1:9193,3@127.0.0.1:9194"; got != want {
		t.Errorf("quorum %q, want %q", got, want)
	}
	want := []string{"serve", "--node-id", "2", "--data-dir", filepath.Join("D", "node-2"),
		"--kafka-addr", "127.0.0.1:9093", "--controller-addr", "127.0.0.1:9193",
		"--controller-quorum", "1@127.0.0.1:9192,2@127.0.0.1:9193,3@127.0.0.1:9194",
		"--rocketmq-addr", "127.0.0.1:9877",
		"--http-addr", "127.0.0.1:9293", "--log-level", "debug"}
	if got := l.serveArgs("D", 2, true, []string{"--log-level", "debug"}); !reflect.DeepEqual(got, want) {
		t.Errorf("serve args\n%q\nwant\n%q", got, want)
	}
	// Beside Kafka security the nodes run no RocketMQ listener (serve would refuse it).
	if got := l.serveArgs("D", 2, true, []string{"--authorizer=true"}); slices.Contains(got, "--rocketmq-addr") {
		t.Errorf("serve args with --authorizer hold --rocketmq-addr: %q", got)
	}
	// Ranges past 65535, or overlapping (more than 100 nodes), are refused.
	for _, bad := range []clusterLayout{{3, 65400}, {3, 65535 - rocketmqPortOffset - 1}, {3, 0}, {0, 9092}, {101, 9092}} {
		if err := bad.validate(); err == nil {
			t.Errorf("layout %+v accepted", bad)
		}
	}
	if got, want := l.nameServers(), "127.0.0.1:9876;127.0.0.1:9877;127.0.0.1:9878"; got != want {
		t.Errorf("RocketMQ name servers %q, want %q", got, want)
	}
	if err := (clusterLayout{3, 65535 - rocketmqPortOffset - 2}).validate(); err != nil {
		t.Errorf("highest base port for 3 nodes refused: %v", err)
	}
}

// TestClusterLayoutSaved: the first run's layout is what later runs get;
// a flag that disagrees with it, or a dir that holds something else, is
// refused.
func TestClusterLayoutSaved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	l, fresh, err := resolveLayout(dir, clusterLayout{3, 20000}, true, true)
	if err != nil || !fresh || l != (clusterLayout{3, 20000}) {
		t.Fatalf("fresh dir: %+v fresh %v err %v", l, fresh, err)
	}
	if err := saveLayout(dir, l); err != nil {
		t.Fatal(err)
	}
	// Defaults (flags not given) give way to the saved layout.
	if l, fresh, err := resolveLayout(dir, clusterLayout{3, 9092}, false, false); err != nil || fresh || l != (clusterLayout{3, 20000}) {
		t.Fatalf("saved dir: %+v fresh %v err %v", l, fresh, err)
	}
	if _, _, err := resolveLayout(dir, clusterLayout{3, 20000}, true, true); err != nil {
		t.Fatalf("the same flags again: %v", err)
	}
	for _, flags := range []clusterLayout{{5, 20000}, {3, 21000}} {
		if _, _, err := resolveLayout(dir, flags, true, true); err == nil || !strings.Contains(err.Error(), "--nodes 3 --base-port 20000") {
			t.Errorf("flags %+v on a saved dir: %v, want a refusal naming the saved layout", flags, err)
		}
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := resolveLayout(other, clusterLayout{3, 9092}, false, false); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty dir without cluster.json: %v, want refused", err)
	}
}

// TestClusterPortInUse: a port the cluster would use that something holds
// is named before any node starts. (Another process may hold one of the
// other ports too: then the test tries another base port.)
func TestClusterPortInUse(t *testing.T) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		l := clusterLayout{Nodes: 3, BasePort: randomBasePort()}
		held := l.addrs(2).controller
		ln, lerr := net.Listen("tcp", held)
		if lerr != nil {
			continue
		}
		err = l.checkPortsFree(false)
		ln.Close()
		if err == nil {
			t.Fatalf("checkPortsFree passed with %s held", held)
		}
		if strings.Contains(err.Error(), "controller port of node 2, "+held+", is in use") {
			return
		}
	}
	t.Fatalf("checkPortsFree: %v, want node 2's controller port named", err)
}

func TestClusterExtraServeFlags(t *testing.T) {
	if err := checkExtraServeFlags([]string{"--log-level", "debug", "--topic-default=flush.policy=interval"}); err != nil {
		t.Errorf("ordinary serve flags refused: %v", err)
	}
	for _, bad := range [][]string{{"--data-dir", "x"}, {"-node-id=4"}, {"--controller-quorum=1@h:1"}, {"--pprof-addr", "127.0.0.1:6060"}, {"--kafka-tls-addr=127.0.0.1:9093"}} {
		if err := checkExtraServeFlags(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestClusterNodeEnv: a FERRY_* address meant for one broker is not
// handed to every node; other settings are.
func TestClusterNodeEnv(t *testing.T) {
	env := []string{"PATH=/bin", "FERRY_PPROF_ADDR=127.0.0.1:6060", "FERRY_ADVERTISED_ADDR=h:1", "FERRY_KAFKA_TLS_ADDR=:9093", "FERRY_LOG_LEVEL=debug", "FERRY_NODE_ID=7"}
	if got, want := nodeEnv(env), []string{"PATH=/bin", "FERRY_LOG_LEVEL=debug"}; !reflect.DeepEqual(got, want) {
		t.Errorf("nodeEnv = %q, want %q", got, want)
	}
}
