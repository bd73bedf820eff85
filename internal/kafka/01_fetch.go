package kafka

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/log"
)

// Fetch: v4-12 (v13 switches to topic ids).
//
// Reads whole batches from each partition up to its high watermark, within
// the per-partition and per-response byte limits; the first partition with
// data returns at least one batch even if it is larger (KIP-74). With less
// than min_bytes available the request parks until an append to one of its
// partitions wakes it or max_wait_ms passes — no polling. Record bytes are
// sent from the segment files with sendfile. Fetch sessions (KIP-227) are
// not kept: session id 0 tells clients to send full requests.
// With isolation_level=1 (read_committed) records are returned only below
// the last stable offset (the first offset of the oldest transaction not
// yet ended), with the aborted transactions that may have records in the
// range read, so the client can drop them; the LSO is reported in both
// modes. An offset whose bytes the log quarantined as damaged, or whose
// batch header is invalid on disk, is answered CORRUPT_MESSAGE for its
// partition (never served, never skipped silently). A current leader epoch
// (v9+) older than the partition's answers FENCED_LEADER_EPOCH, a newer one
// UNKNOWN_LEADER_EPOCH (KIP-320); -1 skips the check.
//
// A fetch with a replica id (>= 0) comes from a follower: it reads up to the
// leader's log end (fsynced or not) rather than the high watermark, is woken
// by appends, and its fetch offset tells the leader how far that follower's
// log reaches (see broker.Partition.FollowerFetched), which moves the high
// watermark. What a leader serves to replicas a reassignment adds is
// limited by --replication-throttle (broker.ReplicaFetchBudget): once it is
// spent, such a partition is answered without records.

func init() { register(1, 4, 12, handleFetch) }

// maxFetchResponseBytes caps one response whatever the request asks for
// (Kafka's fetch.max.bytes), keeping the size field far from overflow even
// when a request names one partition many times.
const maxFetchResponseBytes = 64 << 20

// maxFetchWait caps max_wait_ms so a client cannot park a request forever.
const maxFetchWait = 30 * time.Second

func handleFetch(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.FetchRequest)
	return func() reply { return fetch(c, req) }
}

func fetch(c *conn, req *kmsg.FetchRequest) reply {
	wait := time.Duration(req.MaxWaitMillis) * time.Millisecond
	wait = min(max(wait, 0), maxFetchWait)
	deadline := time.Now().Add(wait)
	var wake chan struct{}
	var watched []*broker.Partition
	defer func() {
		for _, p := range watched {
			if req.ReplicaID >= 0 {
				p.UnwatchAppends(wake)
			} else {
				p.Unwatch(wake)
			}
		}
	}()
	for {
		rep, total, errored := readFetch(c, req)
		remaining := time.Until(deadline)
		if errored || total >= int64(req.MinBytes) || remaining <= 0 || c.s.ctx.Err() != nil {
			if req.ReplicaID < 0 {
				countFetched(rep) // consumers' traffic; replicas' is not bytes out
			}
			return rep
		}
		if wake == nil {
			// Register, then read again: an append between the first
			// read and the registration must not be missed.
			wake = make(chan struct{}, 1)
			watched = fetchPartitions(c, req)
			for _, p := range watched {
				if req.ReplicaID >= 0 {
					p.WatchAppends(wake)
				} else {
					p.Watch(wake)
				}
			}
			continue
		}
		timer := time.NewTimer(remaining)
		parked := time.Now()
		c.s.instruments().fetchWaiting.Add(1)
		select {
		case <-wake:
		case <-timer.C:
		case <-c.s.ctx.Done():
		}
		c.s.instruments().fetchWaiting.Add(-1)
		c.parkedSince(parked)
		timer.Stop()
	}
}

// countFetched adds what a response sends to its partitions' traffic.
func countFetched(rep *fetchReply) {
	for i := range rep.topics {
		for _, fp := range rep.topics[i].partitions {
			if fp.part != nil && fp.records.Size > 0 {
				fp.part.CountFetched(fp.records.Records, fp.records.Size)
			}
		}
	}
}

func fetchPartitions(c *conn, req *kmsg.FetchRequest) []*broker.Partition {
	var out []*broker.Partition
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			if p, err := c.s.broker.Partition(rt.Topic, rp.Partition); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// readFetch builds one response from what is readable now. It returns the
// record bytes found and whether any partition had an error (which is
// answered at once rather than waited on).
func readFetch(c *conn, req *kmsg.FetchRequest) (*fetchReply, int64, bool) {
	rep := &fetchReply{version: req.Version}
	budget := int64(req.MaxBytes)
	if budget <= 0 || budget > maxFetchResponseBytes {
		budget = maxFetchResponseBytes
	}
	var total int64
	errored := false
	follower := req.ReplicaID >= 0
	for _, rt := range req.Topics {
		ft := fetchTopic{name: rt.Topic}
		for _, rp := range rt.Partitions {
			fp := fetchPartition{partition: rp.Partition, highWatermark: -1, lastStable: -1, logStart: -1}
			p, err := c.s.broker.Partition(rt.Topic, rp.Partition)
			if err == nil && follower {
				err = p.FollowerFetched(req.ReplicaID, rp.CurrentLeaderEpoch, rp.FetchOffset, time.Now())
			} else if err == nil {
				err = p.CheckEstablished()
			}
			if err != nil {
				fp.errorCode = broker.ErrorCode(err)
				errored = true
				ft.partitions = append(ft.partitions, fp)
				continue
			}
			if code := p.CheckLeaderEpoch(rp.CurrentLeaderEpoch); code != 0 {
				fp.errorCode = code
				errored = true
				ft.partitions = append(ft.partitions, fp)
				continue
			}
			l := p.Log()
			fp.highWatermark = p.HighWatermark()
			fp.lastStable = p.LastStableOffset()
			fp.logStart = l.StartOffset()
			// Consumers read committed records only; a follower copies
			// everything the leader has, fsynced or not, so that its
			// fsync runs alongside the leader's (the high watermark
			// still waits for both).
			readLimit := fp.highWatermark
			limit := min(int64(rp.PartitionMaxBytes), budget)
			adding := false
			if follower {
				// A replica a reassignment adds gets what
				// --replication-throttle leaves; nothing when spent.
				var throttled int64
				if throttled, adding = c.s.broker.ReplicaFetchBudget(p, req.ReplicaID, limit); throttled <= 0 && adding {
					ft.partitions = append(ft.partitions, fp)
					continue
				}
				limit = throttled
			}
			if limit > 0 || total == 0 {
				var slice log.Slice
				var err error
				if req.IsolationLevel == 1 {
					slice, fp.lastStable, fp.aborted, err = p.ReadCommitted(rp.FetchOffset, int(max(limit, 0)), total == 0)
				} else {
					if follower {
						slice, err = l.ReadUnflushed(rp.FetchOffset, int(max(limit, 0)), total == 0)
					} else {
						slice, err = l.ReadBelow(rp.FetchOffset, int(max(limit, 0)), total == 0, readLimit)
					}
				}
				switch {
				case errors.Is(err, log.ErrOffsetOutOfRange):
					fp.errorCode = kerr.OffsetOutOfRange.Code
					errored = true
				case errors.Is(err, log.ErrDamaged):
					// Quarantined at open, where it was logged at ERROR; a
					// client retries this, so no log line per fetch.
					fp.errorCode = kerr.CorruptMessage.Code
					errored = true
					c.log.Debug("fetch of a damaged range", "topic", rt.Topic, "partition", rp.Partition, "offset", rp.FetchOffset, "err", err)
				case errors.Is(err, log.ErrCorruptBatch):
					// Invalid bytes on disk that open did not look at: say so
					// rather than serve them or skip them silently.
					fp.errorCode = kerr.CorruptMessage.Code
					errored = true
					c.log.Error("fetch hit damaged log data", "topic", rt.Topic, "partition", rp.Partition, "offset", rp.FetchOffset, "err", err)
				case err != nil:
					fp.errorCode = kerr.KafkaStorageError.Code
					errored = true
					c.log.Error("fetch read failed", "topic", rt.Topic, "partition", rp.Partition, "err", err)
				default:
					fp.records, fp.part = slice, p
					total += slice.Size
					budget -= slice.Size
					if adding {
						c.s.broker.ReplicaFetchServed(slice.Size)
					}
				}
			}
			ft.partitions = append(ft.partitions, fp)
		}
		rep.topics = append(rep.topics, ft)
	}
	return rep, total, errored
}
