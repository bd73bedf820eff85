package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/meta"
)

// openWorkers bounds how many partitions open (or close) at once. Opening a
// partition is mostly waiting for the disk (fsyncs on create, reads during
// recovery), so several workers per core pay off, while a bound keeps a
// 10,000-partition start from running 10,000 goroutines of file I/O.
func openWorkers() int { return max(16, 4*runtime.GOMAXPROCS(0)) }

// forEachParallel calls fn(0..n-1) on at most openWorkers goroutines and
// returns when every call has.
func forEachParallel(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(openWorkers(), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// openJob is one partition to open.
type openJob struct {
	topic *meta.Topic
	index int32
	tc    config.TopicConfig
	// remote: this node holds no replica of the partition, so it is not
	// opened here.
	remote bool
}

// openResult is what opening one partition gave; created says a new
// directory was made (its entry in the data dir needs an fsync).
type openResult struct {
	p       *Partition
	created bool
	err     error
}

// openPartitions opens jobs in parallel; results[i] belongs to jobs[i].
func (b *Broker) openPartitions(jobs []openJob) []openResult {
	results := make([]openResult, len(jobs))
	forEachParallel(len(jobs), func(i int) {
		j := jobs[i]
		if j.remote {
			return // no replica here: a nil entry
		}
		p, created, err := b.openPartition(j.topic, j.index, j.tc)
		results[i] = openResult{p: p, created: created, err: err}
	})
	return results
}

func (b *Broker) openPartition(t *meta.Topic, index int32, tc config.TopicConfig) (*Partition, bool, error) {
	dir := filepath.Join(b.cfg.DataDir, partitionDirName(t.Name, index))
	created, err := b.preparePartitionDir(dir, t)
	if err != nil {
		return nil, false, fmt.Errorf("open partition %s-%d: %w", t.Name, index, err)
	}
	logger := b.log.With("topic", t.Name, "partition", index)
	p := &Partition{Topic: t.Name, Index: index, config: tc, logger: logger, dir: dir, topicID: t.ID, loadedHW: readHighWatermark(dir), proposer: b.proposeISRChange, metrics: &b.metrics}
	p.hwCheckpointed.Store(p.loadedHW)
	l, err := log.Open(dir, tc.Log, log.Options{
		Logger:    logger,
		OnAdvance: p.onLogAdvance,
		OnAppend:  p.onLogAppend,
		FS:        b.cfg.LogFS,

		OnFsync:       b.metrics.observeFsync,
		OnGroupCommit: b.metrics.observeGroupCommit,
	})
	if err != nil {
		return nil, created, fmt.Errorf("open partition %s-%d: %w", t.Name, index, err)
	}
	p.log = l
	if err := p.rebuildTxnState(dir); err != nil {
		l.Close()
		return nil, created, fmt.Errorf("open partition %s-%d: producer state: %w", t.Name, index, err)
	}
	// Take the role before the partition is published, so that a single
	// node's partitions are led from the start.
	p.applyPlacement(b.PartitionPlacement(t, index), b.cfg.NodeID)
	return p, created, nil
}

// preparePartitionDir makes dir a directory of topic incarnation t, so the
// log opened in it holds only data written for t: a directory recorded for
// another topic id (a deleted incarnation whose removal failed) is renamed
// away and removed, one without an id (which start-up would have adopted or
// quarantined) goes to quarantine; neither is ever opened. A new directory
// gets t's id before any data. It returns whether it made the directory.
func (b *Broker) preparePartitionDir(dir string, t *meta.Topic) (bool, error) {
	id, idErr := readPartitionID(dir)
	if idErr == nil && id == t.ID {
		return false, nil
	}
	if _, err := os.Lstat(dir); err == nil {
		if idErr == nil {
			b.log.Warn("partition directory belongs to another incarnation of the topic (a deleted one): moving it away instead of opening it",
				"dir", dir, "dir_topic_id", formatTopicID(id), "topic_id", formatTopicID(t.ID))
			to, err := b.moveAside(dir, id)
			if err != nil {
				return false, fmt.Errorf("directory %s holds data of topic id %s, not of this topic (%s), and cannot be moved away: %w",
					dir, formatTopicID(id), formatTopicID(t.ID), err)
			}
			b.removeInBackground([]string{to})
		} else if !b.quarantine(dir, "a new partition of topic id "+formatTopicID(t.ID)+" found it in place, and "+quarantineReason(false, false, idErr)) {
			return false, fmt.Errorf("directory %s holds data the broker did not write for this topic and cannot be moved away", dir)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return false, err
	}
	if err := writePartitionID(dir, t.ID); err != nil {
		return true, err
	}
	return true, nil
}

// deletePartitions retires the partitions of deleted topics: it closes their
// logs, renames each directory to "…-delete" (so no later create of the same
// name can find it), makes the renames durable, and removes the directories
// in the background. When it returns, the delete may be acknowledged: after
// a crash, start-up removes whatever is left (sweepDataDir).
func (b *Broker) deletePartitions(parts []*Partition) {
	if len(parts) == 0 {
		return
	}
	forEachParallel(len(parts), func(i int) {
		p := parts[i]
		if err := p.log.Close(); err != nil {
			b.log.Error("close partition of a deleted topic", "topic", p.Topic, "partition", p.Index, "err", err)
		}
	})
	var moved []string
	for _, p := range parts {
		to, err := b.moveAside(p.dir, p.topicID)
		if err != nil {
			b.log.Error("cannot rename the directory of a deleted partition; it keeps its topic id, so no new topic opens it, and the next start removes it",
				"topic", p.Topic, "partition", p.Index, "dir", p.dir, "err", err)
			continue
		}
		moved = append(moved, to)
	}
	if len(moved) > 0 {
		if err := syncDir(b.cfg.DataDir); err != nil {
			b.log.Error("cannot make the renames of deleted partitions durable", "err", err)
		}
	}
	b.removeInBackground(moved)
}
