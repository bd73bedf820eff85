package integration

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// vmRSS returns a process's resident set size (VmRSS in /proc/<pid>/status).
func vmRSS(t testing.TB, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS line %q: %v", sc.Text(), err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// TestSizeClaimAttackMemoryBounded: waves of 2,000 connections that each
// announce a 100 MB request and send one byte. The broker's resident memory
// stays far below what the claims add up to (it was 1 MiB per connection:
// 1.4 GB here, 2.15 GB in the run), and a normal client is served
// throughout. Default limits; loopback only.
func TestSizeClaimAttackMemoryBounded(t *testing.T) {
	const (
		attackers = 2000
		claim     = 100_000_000
		records   = 2000
		rounds    = 20
		waves     = 3
		rssBound  = 300 << 20 // generous: the announced sizes add up to 200 GB
	)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < attackers+1000 {
		t.Skipf("needs %d file descriptors, the limit is %d", attackers+1000, lim.Cur)
	}
	p := startFerry(t, t.TempDir())
	pid := p.cmd.Process.Pid
	topic := topicName(t)
	createTopic(t, newAdmin(t, p.addr), topic, 4)
	cl := newClient(t, p.addr, kgo.DefaultProduceTopic(topic))
	produceSync(t, cl, kgo.StringRecord("before the attack"))
	before := vmRSS(t, pid)

	attack := binary.BigEndian.AppendUint32(nil, claim)
	attack = append(attack, 0)
	var conns []net.Conn
	peak := before
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Attackers come back: memory the broker freed from one wave and
	// reuses for the next must be cleared, so it becomes resident (a
	// single wave's untouched buffers would barely show in VmRSS).
	for wave := range waves {
		for _, c := range conns {
			c.Close()
		}
		conns = conns[:0]
		for range attackers {
			c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
			if err != nil {
				t.Fatalf("wave %d, attack connection %d: %v", wave, len(conns), err)
			}
			conns = append(conns, c)
			if _, err := c.Write(attack); err != nil {
				t.Fatalf("attack write: %v", err)
			}
		}
		// The normal client is served between waves too.
		produceSync(t, cl, kgo.StringRecord(fmt.Sprintf("after wave %d", wave)))
		peak = max(peak, vmRSS(t, pid))
	}

	// The normal client produces and consumes while the attack holds.
	for round := range rounds {
		rs := make([]*kgo.Record, records/rounds)
		for i := range rs {
			rs[i] = kgo.StringRecord(fmt.Sprintf("during the attack %d/%d", round, i))
		}
		produceSync(t, cl, rs...)
		peak = max(peak, vmRSS(t, pid))
	}
	got := consumeN(t, p.addr, allFrom(4, kgo.NewOffset().AtStart()), topic, records+1+waves)
	if len(got) != records+1+waves {
		t.Fatalf("consumed %d records, want %d", len(got), records+1+waves)
	}
	peak = max(peak, vmRSS(t, pid))

	// The attack connections are still open: the memory bound did not
	// come from closing them.
	open := 0
	var buf [1]byte
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(2 * time.Millisecond))
		if _, err := c.Read(buf[:]); errors.Is(err, os.ErrDeadlineExceeded) {
			open++
		}
	}
	t.Logf("broker VmRSS: %d MiB before, peak %d MiB during %d waves of %d connections claiming %d MB each (%d of the last still open); %d records produced and consumed meanwhile",
		before>>20, peak>>20, waves, attackers, claim/1_000_000, open, records)
	if open < attackers*9/10 {
		t.Errorf("only %d of %d attack connections still open", open, attackers)
	}
	if peak > rssBound {
		t.Fatalf("broker VmRSS reached %d MiB under the attack (bound %d MiB)", peak>>20, rssBound>>20)
	}
	if !p.running() {
		t.Fatalf("broker exited\n%s", p.log())
	}
}
