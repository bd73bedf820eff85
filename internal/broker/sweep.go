package broker

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-mq/ferry/internal/cluster"
	"github.com/ferry-mq/ferry/internal/meta"
)

// metaDirName is the metadata log's directory inside the data dir.
const metaDirName = "__meta"

// sweepDataDir runs at start-up, before any partition opens, and leaves in
// the data dir only partition directories of live topic incarnations:
//
//   - "…-delete" directories (a delete renamed them, then the process
//     stopped before removing them) are removed;
//   - a directory whose name a newer topic has taken (its id is not that
//     topic's) is the deleted incarnation's: renamed to "…-delete" and
//     removed;
//   - a directory whose id belongs to no live topic (a delete that a crash
//     cut short before its renames, or lost metadata) is quarantined;
//   - in a cluster, a directory of a live partition whose replicas no
//     longer name this node (a reassignment completed while it was down)
//     is renamed to "…-delete" and removed;
//   - a directory without a topic-id file that belongs to a live topic
//     (written before topic ids were recorded, or by a create interrupted
//     between mkdir and writing the id) is adopted: the live topic's id is
//     written into it;
//   - anything else that looks like a partition directory (no id and no
//     live topic, an unreadable id file, a partition number past the
//     topic's count) is moved to __quarantine/ and logged at ERROR: the
//     broker cannot prove whose data it is, so it neither opens nor deletes
//     it.
//
// Failures are logged and do not stop the start: a directory that could not
// be moved keeps its foreign id, and openPartition refuses to open it.
func (b *Broker) sweepDataDir(img *meta.Image) {
	entries, err := os.ReadDir(b.cfg.DataDir)
	if err != nil {
		b.log.Error("cannot list the data dir to remove data of deleted topics", "dir", b.cfg.DataDir, "err", err)
		return
	}
	// Reading the ids lists every partition directory: do it in parallel,
	// as the opens that follow are.
	ids := make([][16]byte, len(entries))
	idErrs := make([]error, len(entries))
	forEachParallel(len(entries), func(i int) {
		if e := entries[i]; e.IsDir() {
			ids[i], idErrs[i] = readPartitionID(filepath.Join(b.cfg.DataDir, e.Name()))
		}
	})
	var remove, leftovers []string
	changed := false
	adopted := 0
	for i, e := range entries {
		name := e.Name()
		if !e.IsDir() || name == metaDirName || name == cluster.RaftDirName || name == quarantineDir || name == "lost+found" {
			continue
		}
		path := filepath.Join(b.cfg.DataDir, name)
		if strings.HasSuffix(name, deleteSuffix) {
			b.log.Debug("removing partition data of a deleted topic: the delete was interrupted before it removed it", "dir", path)
			remove = append(remove, path)
			leftovers = append(leftovers, name)
			continue
		}
		topic, index, ok := parsePartitionDirName(name)
		if !ok {
			b.log.Warn("data dir holds a directory that is not a partition directory; leaving it alone", "dir", path)
			continue
		}
		t, live := img.Topic(topic)
		inRange := live && index < t.Partitions
		id, err := ids[i], idErrs[i]
		switch {
		case err == nil && inRange && id == t.ID && b.Clustered() && !b.hostsReplica(t, index):
			// A replica moved off this node while it was down (the image
			// holds everything committed before its registration): a
			// stray log no one reads, as Kafka deletes them.
			b.log.Info("removing the log of a replica moved to other brokers while this one was down", "dir", path)
			to, err := b.moveAside(path, id)
			if err != nil {
				b.log.Error("cannot rename the directory of a replica moved away; it stays unopened", "dir", path, "err", err)
				continue
			}
			changed = true
			remove = append(remove, to)
		case err == nil && inRange && id == t.ID:
			// A partition of a live topic: reconcile opens it.
		case err == nil && !live:
			// No live topic has this name: a delete that a crash cut short
			// before its renames, or metadata that was lost or replaced.
			// Only the first is safe to delete, and the two cannot be told
			// apart here, so keep the data out of the way (Kafka likewise
			// renames stray logs instead of deleting them).
			if b.quarantine(path, "its topic id ("+formatTopicID(id)+") belongs to no live topic: a delete interrupted by a crash, or lost metadata") {
				changed = true
			}
		case err == nil && id != t.ID:
			// The name was taken by a newer topic, which only a completed
			// delete of this one allows: this is that deleted topic's data.
			b.log.Warn("removing partition data of a deleted topic: the delete was interrupted before it renamed the directory",
				"dir", path, "topic_id", formatTopicID(id))
			to, err := b.moveAside(path, id)
			if err != nil {
				b.log.Error("cannot rename partition directory of a deleted topic; it stays, and no topic will open it", "dir", path, "err", err)
				continue
			}
			changed = true
			remove = append(remove, to)
		case errors.Is(err, errNoPartitionID) && inRange:
			b.log.Info("adopting partition directory without a topic-id file: recording the topic's id in it",
				"dir", path, "topic_id", formatTopicID(t.ID))
			adopted++
			if err := writePartitionID(path, t.ID); err != nil {
				b.log.Error("cannot record topic id; the partition will not open", "dir", path, "err", err)
				continue
			}
			if err := syncDir(path); err != nil {
				b.log.Error("cannot record topic id; the partition will not open", "dir", path, "err", err)
			}
		default:
			reason := quarantineReason(live, inRange, err)
			if b.quarantine(path, reason) {
				changed = true
			}
		}
	}
	if n := len(leftovers); n > 0 {
		// One line, not one per partition: a crash after deleting a topic of
		// 800 partitions left 800 WARN lines.
		b.log.Warn("removing partition data of deleted topics: a stop came before their deletes removed it",
			"directories", n, "first", leftovers[0])
	}
	if adopted > 0 {
		b.log.Warn("adopted partition directories that had no topic-id file (written by a Ferry from before topic ids were recorded, or by a create a crash interrupted); their topic's id is now recorded in them",
			"directories", adopted)
	}
	if changed {
		if err := syncDir(b.cfg.DataDir); err != nil {
			b.log.Error("cannot make renames in the data dir durable", "err", err)
		}
	}
	b.removeInBackground(remove)
}

func quarantineReason(live, inRange bool, idErr error) string {
	switch {
	case idErr != nil && !errors.Is(idErr, errNoPartitionID):
		return "its topic id is unreadable (" + idErr.Error() + ")"
	case !live:
		return "it has no topic-id file and no live topic has its name"
	case !inRange:
		return "its partition number is past the topic's partition count"
	}
	return "it does not belong to the live topic of its name"
}

// quarantine moves a directory the broker must neither open nor delete to
// DATA/__quarantine/, logging at ERROR what and why; it reports whether the
// move happened (the data dir then needs an fsync).
func (b *Broker) quarantine(path, reason string) bool {
	qdir := filepath.Join(b.cfg.DataDir, quarantineDir)
	if err := os.MkdirAll(qdir, 0o755); err != nil {
		b.log.Error("cannot create the quarantine directory; the partition directory stays and no topic will open it",
			"dir", path, "why", reason, "err", err)
		return false
	}
	to := filepath.Join(qdir, filepath.Base(path))
	if _, err := os.Lstat(to); err == nil {
		to += "." + strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	if err := b.dirs.rename(path, to); err != nil {
		b.log.Error("cannot move a partition directory to quarantine; it stays and no topic will open it",
			"dir", path, "why", reason, "err", err)
		return false
	}
	b.log.Error("moved a partition directory to quarantine: the broker will not open it nor delete it; inspect it and remove it",
		"dir", path, "quarantined_as", to, "why", reason)
	return true
}

// removeInBackground removes directories that were renamed away (deleted
// topics); a failure is logged, and the next start-up tries again.
func (b *Broker) removeInBackground(paths []string) {
	if len(paths) == 0 {
		return
	}
	b.removals.Add(1)
	go func() {
		defer b.removals.Done()
		for _, path := range paths {
			if err := b.dirs.removeAll(path); err != nil {
				b.log.Error("cannot remove data of a deleted topic; no topic will open it, and the next start tries again",
					"dir", path, "err", err)
			}
		}
	}()
}
