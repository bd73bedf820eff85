package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ClusterIDFile, in the data dir, names the cluster the node first joined.
const ClusterIDFile = "cluster.id"

// ErrOtherCluster refuses a data dir that belongs to another cluster.
var ErrOtherCluster = errors.New("data dir belongs to another cluster")

// probeTimeout bounds one probe of a voter before Raft starts.
const probeTimeout = time.Second

// checkJoin asks the other voters, before this node's Raft member starts,
// whether it may join: the cluster they run must be the one named in this
// data dir's ClusterIDFile, and no live process may hold this node id
// (the active controller knows). A restarted process is refused until its
// predecessor's lease runs out, then let in. Voters that do not answer
// (a cluster starting, or all of it restarting) are not waited for.
func (s *Store) checkJoin() error {
	mine, err := s.savedClusterID()
	if err != nil {
		return err
	}
	var dupSince time.Time
	for {
		replies := s.probeVoters()
		dup := ""
		var sessionMs int64
		for _, rep := range replies {
			if mine != "" && rep.ClusterID != "" && rep.ClusterID != mine {
				return s.otherCluster(mine, rep.ClusterID)
			}
			if rep.Duplicate != "" {
				dup, sessionMs = rep.Duplicate, rep.SessionTimeoutMs
			}
		}
		if dup == "" {
			return nil
		}
		if dupSince.IsZero() {
			dupSince = time.Now()
			s.log.Warn("the active controller says a live process holds this node id; waiting for its lease to run out", "node", s.cfg.NodeID, "reason", dup)
		}
		if time.Since(dupSince) > duplicateWait(sessionMs) {
			return fmt.Errorf("%w: %s: stop that process or start this one with another --node-id", ErrDuplicateNodeID, dup)
		}
		time.Sleep(s.cfg.HeartbeatInterval)
	}
}

// probeVoters asks every other voter at once; it returns the answers of
// those that gave one.
func (s *Store) probeVoters() []heartbeatReply {
	var mu sync.Mutex
	var out []heartbeatReply
	var wg sync.WaitGroup
	req := heartbeatRequest{Probe: true, NodeID: s.cfg.NodeID, Incarnation: s.incarnation}
	for _, v := range s.cfg.Quorum {
		if v.NodeID == s.cfg.NodeID {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialKind(s.cfg.Dial, v.Addr, connHeartbeat, probeTimeout)
			if err != nil {
				return
			}
			defer c.Close()
			rep, err := roundTrip(c, bufio.NewReader(c), req, probeTimeout)
			if err != nil {
				return
			}
			mu.Lock()
			out = append(out, rep)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func (s *Store) otherCluster(mine, theirs string) error {
	return fmt.Errorf("%w: data dir %s belongs to cluster %s (see %s), but the controller quorum runs cluster %s: "+
		"start this node on a fresh data dir to join this cluster, or with the quorum of its own",
		ErrOtherCluster, s.cfg.DataDir, mine, filepath.Join(s.cfg.DataDir, ClusterIDFile), theirs)
}

// savedClusterID returns the id in ClusterIDFile, or "" when there is none.
func (s *Store) savedClusterID() (string, error) {
	b, err := os.ReadFile(filepath.Join(s.cfg.DataDir, ClusterIDFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cluster id: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// SaveClusterID checks id, the id of the cluster this node's image holds,
// against the data dir's ClusterIDFile, and writes the file when the node
// joins for the first time.
func (s *Store) SaveClusterID(id string) error {
	mine, err := s.savedClusterID()
	if err != nil {
		return err
	}
	if mine != "" {
		if mine != id {
			return s.otherCluster(mine, id)
		}
		return nil
	}
	path := filepath.Join(s.cfg.DataDir, ClusterIDFile)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err == nil {
		if _, err = f.WriteString(id + "\n"); err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		var d *os.File
		if d, err = os.Open(s.cfg.DataDir); err == nil {
			err = d.Sync()
			d.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
