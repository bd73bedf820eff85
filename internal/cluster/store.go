package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/ferry-mq/ferry/internal/controller"
	"github.com/ferry-mq/ferry/internal/meta"
)

// RaftDirName is the directory under the data dir that holds Raft's state.
const RaftDirName = "__raft"

// Config says how a node takes part in the controller quorum.
type Config struct {
	NodeID int32
	// DataDir is the broker's data dir; Raft's state goes in
	// DataDir/__raft.
	DataDir string
	// ListenAddr is the controller port to bind (--controller-addr);
	// empty means this node's address in Quorum.
	ListenAddr string
	// Quorum are the voters (--controller-quorum); NodeID must be one.
	Quorum []Voter
	// ProposeTimeout bounds one Update, waiting for a leader included.
	ProposeTimeout time.Duration
	// Raft, when set, adjusts Raft's own configuration (tests shorten
	// its timeouts).
	Raft func(*raft.Config)
	// Dial opens every connection to another node: Raft, forwarded
	// proposals, heartbeats (config.Config.Dialer()). nil dials TCP.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// HeartbeatInterval is how often this node's broker heartbeats the
	// active controller; SessionTimeout is how long the active controller
	// waits for a heartbeat before it fences a broker. Zero takes
	// DefaultHeartbeatInterval and DefaultSessionTimeout.
	HeartbeatInterval, SessionTimeout time.Duration
	// TopicDefaults are the broker defaults of topic configs; fencing
	// reads unclean.leader.election.enable from them.
	TopicDefaults map[string]string
	// LeaderRebalanceInterval is how often the active controller moves
	// leadership back to preferred replicas (auto.leader.rebalance.enable);
	// 0 never does. LeaderImbalancePct is the share of a broker's
	// preferred partitions that may be led elsewhere before it acts.
	LeaderRebalanceInterval time.Duration
	LeaderImbalancePct      int
	// Now is the controller's clock; nil is time.Now.
	Now func() time.Time
	// ServerTLS, when set, makes the controller port a TLS listener
	// (with client certificates required, as the caller configures it),
	// and ClientTLS is what this node dials other controller ports with.
	ServerTLS, ClientTLS *tls.Config
}

// The defaults fence a dead broker, and move its partitions' leadership,
// within about 1.6 s: a session, plus one tick of the lease check.
const (
	DefaultHeartbeatInterval = 200 * time.Millisecond
	DefaultSessionTimeout    = 1500 * time.Millisecond
)

// Store is the metadata store of a node in the controller quorum.
type Store struct {
	cfg    Config
	log    *slog.Logger
	fsm    *fsm
	raft   *raft.Raft
	mux    *mux
	trans  *raft.NetworkTransport
	bolt   *raftboltdb.BoltStore
	voters map[raft.ServerID]int32
	voter  bool   // false: a broker-only node (a Raft non-voter)
	self   string // this node's controller address, as the others reach it

	mu sync.Mutex // serializes this node's Updates, so each fn sees the last one's result

	noLeaderWait time.Duration // how long a proposal waits for a leader

	incarnation string             // this process's, drawn at Open
	leases      *controller.Leases // read by the active controller only
	officeMu    sync.Mutex
	officeTerm  string // the Raft term this node leads in, "" when it does not (see inOffice)
	policy      controller.Policy
	beats       *heartbeater  // set by Register
	started     chan struct{} // closed once raft is set
	stop        chan struct{}
	wg          sync.WaitGroup // the lease loop and the heartbeat loop
}

var _ meta.Store = (*Store)(nil)

// Open starts this node's Raft member. It returns before a leader is
// elected; Update waits for one.
func Open(cfg Config, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ProposeTimeout <= 0 {
		cfg.ProposeTimeout = 15 * time.Second
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.SessionTimeout <= cfg.HeartbeatInterval {
		return nil, fmt.Errorf("broker session timeout %v must be longer than the heartbeat interval %v", cfg.SessionTimeout, cfg.HeartbeatInterval)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	self, voter := voterAddr(cfg.Quorum, cfg.NodeID)
	if !voter {
		// A broker-only node: a Raft non-voter the active controller
		// adds when it first heartbeats, so the metadata log reaches it
		// at the address it listens on.
		if cfg.ListenAddr == "" {
			return nil, fmt.Errorf("node %d is not in the controller quorum, so it joins as a broker only; it needs --controller-addr host:port, where the controller replicates the metadata log to it", cfg.NodeID)
		}
		if host, _, err := net.SplitHostPort(cfg.ListenAddr); err != nil || host == "" || net.ParseIP(host).IsUnspecified() {
			return nil, fmt.Errorf("broker-only node %d: --controller-addr %q must name an address the controllers can reach (not 0.0.0.0 or an empty host)", cfg.NodeID, cfg.ListenAddr)
		}
		self = cfg.ListenAddr
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = self
	}
	if cfg.ServerTLS != nil {
		cfg.Dial = dialTLS(cfg.Dial, cfg.ClientTLS)
	}
	dir := filepath.Join(cfg.DataDir, RaftDirName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create raft dir: %w", err)
	}
	s := &Store{cfg: cfg, log: logger, voter: voter, self: self, fsm: newFSM(cfg.NodeID, logger), voters: map[raft.ServerID]int32{},
		incarnation: newIncarnation(), leases: controller.NewLeases(cfg.SessionTimeout),
		policy: controller.Policy{TopicDefaults: cfg.TopicDefaults}, started: make(chan struct{}), stop: make(chan struct{})}
	for _, v := range cfg.Quorum {
		s.voters[serverID(v.NodeID)] = v.NodeID
	}
	ok := false
	defer func() {
		if !ok {
			s.closeParts()
		}
	}()

	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Info, Output: slogWriter{logger}, DisableTime: true})
	conf := raft.DefaultConfig()
	conf.LocalID = serverID(cfg.NodeID)
	conf.Logger = hlog
	if cfg.Raft != nil {
		cfg.Raft(conf)
	}
	s.noLeaderWait = max(5*time.Second, 5*conf.ElectionTimeout)
	var err error
	if s.bolt, err = raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db")); err != nil {
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hlog)
	if err != nil {
		return nil, fmt.Errorf("open raft snapshots: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		hint := ""
		if errors.Is(err, syscall.EADDRINUSE) {
			hint = fmt.Sprintf(" (another process holds it: is node %d running already?)", cfg.NodeID)
		}
		return nil, fmt.Errorf("controller listener: %w%s", err, hint)
	}
	if cfg.ServerTLS != nil {
		ln = tls.NewListener(ln, cfg.ServerTLS)
	}
	if s.mux, err = newMux(ln, self, cfg.Dial, map[byte]func(net.Conn){connForward: s.serveForward, connHeartbeat: s.serveHeartbeats}); err != nil {
		ln.Close()
		return nil, err
	}
	// Before Raft starts: a node of another cluster, or a second process
	// with this node id, must not take part in this quorum's elections.
	// (The mux answers other nodes' probes meanwhile.)
	if err := s.checkJoin(); err != nil {
		return nil, err
	}
	s.trans = raft.NewNetworkTransportWithLogger(s.mux, 3, 10*time.Second, hlog)
	existing, err := raft.HasExistingState(s.bolt, s.bolt, snaps)
	if err != nil {
		return nil, err
	}
	if !existing && voter {
		var servers []raft.Server
		for _, v := range cfg.Quorum {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: serverID(v.NodeID), Address: raft.ServerAddress(v.Addr)})
		}
		if err := raft.BootstrapCluster(conf, s.bolt, s.bolt, snaps, s.trans, raft.Configuration{Servers: servers}); err != nil {
			return nil, fmt.Errorf("bootstrap controller quorum: %w", err)
		}
		logger.Info("bootstrapped controller quorum", "voters", len(servers))
	}
	if s.raft, err = raft.NewRaft(conf, s.fsm, s.bolt, s.bolt, snaps, s.trans); err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	close(s.started)
	s.wg.Add(1)
	go s.leaseLoop()
	ok = true
	return s, nil
}

func serverID(node int32) raft.ServerID { return raft.ServerID(strconv.Itoa(int(node))) }

func voterAddr(q []Voter, node int32) (string, bool) {
	for _, v := range q {
		if v.NodeID == node {
			return v.Addr, true
		}
	}
	return "", false
}

// Image returns the newest image this node has applied.
func (s *Store) Image() *meta.Image { return s.fsm.pub.Load() }

// Changed returns a channel closed when a newer image is applied.
func (s *Store) Changed() <-chan struct{} { return s.fsm.pub.Changed() }

// Controller returns the node id of the active controller (the Raft
// leader), or -1 while there is none.
func (s *Store) Controller() int32 {
	_, id := s.raft.LeaderWithID()
	if n, ok := s.voters[id]; ok {
		return n
	}
	return -1
}

// Snapshot takes a Raft snapshot now (tests; Raft also takes them itself).
func (s *Store) Snapshot() error { return s.raft.Snapshot().Error() }

// Update runs fn on the newest image, commits its records through the
// leader, and returns once this node has applied them. When the records
// no longer fit the log (this node's image was stale), fn runs again on
// the newer image, at most three times.
func (s *Store) Update(fn func(*meta.Image) ([]meta.Record, error)) (*meta.Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	deadline := time.Now().Add(s.cfg.ProposeTimeout)
	for attempt := 1; ; attempt++ {
		img := s.Image()
		recs, err := fn(img)
		if errors.Is(err, meta.ErrNoChange) {
			return img, nil
		}
		if err != nil {
			return nil, err
		}
		index, rejected, err := s.propose(recs, deadline)
		if err != nil {
			return nil, err
		}
		if err := s.waitApplied(index, deadline); err != nil {
			return nil, err
		}
		if rejected == nil {
			return s.Image(), nil
		}
		if attempt == 3 {
			return nil, rejected
		}
	}
}

// ErrNoController is returned when no leader could be reached in time:
// the quorum has no majority, or is still electing.
var ErrNoController = errors.New("no active controller (the controller quorum has no leader)")

// propose commits recs through the leader and returns the entry's index
// and, when the FSM refused it, why.
func (s *Store) propose(recs []meta.Record, deadline time.Time) (uint64, error, error) {
	data, err := json.Marshal(recs)
	if err != nil {
		return 0, nil, err
	}
	// Waiting for a leader ends sooner than committing: a quorum without
	// a majority answers with a clear error in seconds, not at the end
	// of ProposeTimeout (clients may have given up by then).
	if d := time.Now().Add(s.noLeaderWait); d.Before(deadline) {
		deadline = d
	}
	var lastErr error
	for time.Now().Before(deadline) {
		if s.raft.State() == raft.Leader {
			index, rejected, err := s.applyAsLeader(data, time.Until(deadline))
			if err == nil || !notAppended(err) {
				return index, rejected, err
			}
			lastErr = err
		} else if addr, _ := s.raft.LeaderWithID(); addr != "" {
			index, rejected, err := forward(s.cfg.Dial, string(addr), data, time.Until(deadline))
			if err == nil || !errors.Is(err, errNotSent) {
				return index, rejected, err
			}
			lastErr = err
		}
		// No leader yet, or it just changed: elections take about a
		// second with Raft's default timeouts.
		select {
		case <-s.stop:
			return 0, nil, fmt.Errorf("%w: this node is shutting down", ErrNoController)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if lastErr != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrNoController, lastErr)
	}
	return 0, nil, ErrNoController
}

// notAppended reports whether Raft refused an entry before appending it,
// so proposing it again cannot apply it twice.
func notAppended(err error) bool {
	return errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrEnqueueTimeout)
}

// applyAsLeader appends data to the Raft log. ErrLeadershipLost is final:
// the entry may still commit, so it is not proposed again. The leader
// first checks it still has a majority (one round of heartbeats): a leader
// cut off from the others then fails before it appends anything, and the
// proposal ends in ErrNoController rather than an unknown outcome.
func (s *Store) applyAsLeader(data []byte, timeout time.Duration) (uint64, error, error) {
	if err := s.raft.VerifyLeader().Error(); err != nil {
		return 0, nil, fmt.Errorf("%w: no majority confirms this controller: %v", raft.ErrNotLeader, err)
	}
	f := s.raft.Apply(data, timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrLeadershipLost) {
			return 0, nil, fmt.Errorf("the controller lost its leadership while committing a metadata change; it may or may not have been applied: %w", err)
		}
		return 0, nil, err
	}
	if r, ok := f.Response().(rejection); ok {
		return f.Index(), r, nil
	}
	return f.Index(), nil, nil
}

// waitApplied returns once this node's FSM has applied index.
func (s *Store) waitApplied(index uint64, deadline time.Time) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		ch := s.fsm.pub.Changed()
		if s.fsm.applied.Load() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-t.C:
			return fmt.Errorf("metadata entry %d committed but not applied on node %d in time", index, s.cfg.NodeID)
		}
	}
}

func (s *Store) closeParts() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
	if s.beats != nil {
		s.beats.leave()
		s.beats.close()
	}
	var errs []error
	if s.raft != nil {
		errs = append(errs, s.raft.Shutdown().Error())
	}
	if s.trans != nil {
		errs = append(errs, s.trans.Close())
	} else if s.mux != nil {
		errs = append(errs, s.mux.Close())
	}
	if s.mux != nil {
		s.mux.Close()
		s.mux.wg.Wait()
	}
	if s.bolt != nil {
		errs = append(errs, s.bolt.Close())
	}
	return errors.Join(errs...)
}

// Close stops this node's Raft member.
func (s *Store) Close() error { return s.closeParts() }

// slogWriter carries hclog's lines (Raft's logging) into slog.
type slogWriter struct{ log *slog.Logger }

// Write logs one hclog line ("[WARN]  raft: message: k=v", time disabled)
// at its own level.
func (w slogWriter) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	level := slog.LevelInfo
	for prefix, l := range map[string]slog.Level{"[ERROR]": slog.LevelError, "[WARN]": slog.LevelWarn, "[DEBUG]": slog.LevelDebug, "[TRACE]": slog.LevelDebug, "[INFO]": slog.LevelInfo} {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			level, line = l, strings.TrimSpace(rest)
			break
		}
	}
	w.log.Log(context.Background(), level, line, "component", "raft")
	return len(p), nil
}
