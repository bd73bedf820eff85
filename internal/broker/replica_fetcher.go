package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/log"
)

// Replica fetch tuning. A follower long-polls its leader: the leader
// answers as soon as it has new data (or after replicaFetchWait), so
// replication adds about one round trip and one fsync to acks=all.
const (
	replicaFetchWait     = 500 * time.Millisecond
	replicaFetchMaxBytes = 16 << 20
	replicaPartitionMax  = 4 << 20
	replicaRetryBackoff  = 100 * time.Millisecond
	replicaTimeout       = 10 * time.Second
)

// fetcher copies the partitions this node follows from one leader: one
// connection, one Fetch at a time covering all of them (as Kafka's replica
// fetcher threads do).
type fetcher struct {
	b      *Broker
	leader int32

	mu    sync.Mutex
	parts map[*Partition]*fetchState
	wake  chan struct{}

	stop chan struct{}
	done chan struct{}
}

// fetchState is one followed partition: the leader epoch it follows, and
// whether its log has been truncated to where it agrees with that leader.
type fetchState struct {
	epoch     int32
	truncated bool
	backoff   time.Time // skip until then after an error
}

func newFetcher(b *Broker, leader int32) *fetcher {
	f := &fetcher{b: b, leader: leader, parts: map[*Partition]*fetchState{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go f.run()
	return f
}

// set makes the fetcher follow exactly parts (partition -> leader epoch).
func (f *fetcher) set(parts map[*Partition]int32) {
	f.mu.Lock()
	for p := range f.parts {
		if _, ok := parts[p]; !ok {
			delete(f.parts, p)
		}
	}
	for p, epoch := range parts {
		if st, ok := f.parts[p]; !ok || st.epoch != epoch {
			f.parts[p] = &fetchState{epoch: epoch}
		}
	}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fetcher) close() {
	close(f.stop)
	<-f.done
}

func (f *fetcher) run() {
	defer close(f.done)
	var pc *peerConn
	defer func() {
		if pc != nil {
			pc.Close()
		}
	}()
	for {
		select {
		case <-f.stop:
			return
		default:
		}
		f.mu.Lock()
		n := len(f.parts)
		f.mu.Unlock()
		if n == 0 {
			select {
			case <-f.stop:
				return
			case <-f.wake:
			}
			continue
		}
		if pc == nil {
			var err error
			if pc, err = f.connect(); err != nil {
				f.b.log.Debug("cannot reach the leader to fetch from", "leader", f.leader, "err", err)
				f.sleep(replicaRetryBackoff)
				continue
			}
		}
		if err := f.round(pc); err != nil {
			f.b.log.Debug("replica fetch failed", "leader", f.leader, "err", err)
			pc.Close()
			pc = nil
			f.sleep(replicaRetryBackoff)
		}
	}
}

func (f *fetcher) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.stop:
	case <-t.C:
	}
}

func (f *fetcher) connect() (*peerConn, error) { return f.b.dialNode(f.leader, replicaTimeout) }

// round truncates what needs it, then fetches once.
func (f *fetcher) round(pc *peerConn) error {
	now := time.Now()
	f.mu.Lock()
	var truncate, fetch []*Partition
	states := make(map[*Partition]fetchState, len(f.parts))
	for p, st := range f.parts {
		if now.Before(st.backoff) {
			continue
		}
		states[p] = *st
		if st.truncated {
			fetch = append(fetch, p)
		} else {
			truncate = append(truncate, p)
		}
	}
	f.mu.Unlock()
	if len(truncate) > 0 {
		if err := f.truncate(pc, truncate, states); err != nil {
			return err
		}
	}
	if len(fetch) == 0 {
		f.sleep(replicaRetryBackoff / 2)
		return nil
	}
	return f.fetch(pc, fetch, states)
}

// truncate asks the leader where each partition's latest epoch ends
// (OffsetForLeaderEpoch, KIP-101/279) and cuts the local log there, so
// that it holds no record the leader's log does not hold at the same
// offset.
func (f *fetcher) truncate(pc *peerConn, parts []*Partition, states map[*Partition]fetchState) error {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version = 4
	req.ReplicaID = f.b.cfg.NodeID
	byTopic := map[string]int{}
	for _, p := range parts {
		i, ok := byTopic[p.Topic]
		if !ok {
			i = len(req.Topics)
			byTopic[p.Topic] = i
			t := kmsg.NewOffsetForLeaderEpochRequestTopic()
			t.Topic = p.Topic
			req.Topics = append(req.Topics, t)
		}
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition = p.Index
		rp.CurrentLeaderEpoch = states[p].epoch
		rp.LeaderEpoch = latestLogEpoch(p.log)
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	kresp, err := pc.roundTrip(req, replicaTimeout)
	if err != nil {
		return err
	}
	resp := kresp.(*kmsg.OffsetForLeaderEpochResponse)
	find := partitionFinder(parts)
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			p := find(rt.Topic, rp.Partition)
			if p == nil {
				continue
			}
			if rp.ErrorCode != 0 {
				f.backoff(p, states[p].epoch, kerr.ErrorForCode(rp.ErrorCode))
				continue
			}
			if err := f.truncateOne(p, rp.LeaderEpoch, rp.EndOffset); err != nil {
				f.backoff(p, states[p].epoch, err)
				continue
			}
			f.markTruncated(p, states[p].epoch)
		}
	}
	return nil
}

// truncateOne applies the leader's answer for one partition. The local end
// of the epoch the leader names bounds the cut too (KIP-279): if the
// leader knows an older epoch only, this log's records of later epochs
// diverge. An undefined answer (the leader has no epoch at or below this
// log's latest) leaves the high watermark as the last point known safe.
func (f *fetcher) truncateOne(p *Partition, leaderEpoch int32, leaderEnd int64) error {
	local := p.log.EndOffset()
	to := local
	if leaderEpoch == log.UndefinedEpoch || leaderEnd < 0 {
		if latestLogEpoch(p.log) != log.UndefinedEpoch {
			to = min(local, max(p.HighWatermark(), p.log.StartOffset()))
		}
	} else {
		to = min(local, leaderEnd)
		if e, end := p.log.EndOffsetForEpoch(leaderEpoch); e == leaderEpoch && end >= 0 {
			to = min(to, end)
		}
	}
	if to >= local {
		return nil
	}
	p.logger.Warn("truncating replica to where it agrees with the leader", "from", local, "to", to, "leader", f.leader, "leader_epoch", leaderEpoch, "leader_end", leaderEnd)
	return p.truncateTo(to)
}

func latestLogEpoch(l *log.Log) int32 {
	eps := l.LeaderEpochs()
	if len(eps) == 0 {
		return log.UndefinedEpoch
	}
	return eps[len(eps)-1].Epoch
}

func (f *fetcher) fetch(pc *peerConn, parts []*Partition, states map[*Partition]fetchState) error {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID = f.b.cfg.NodeID
	req.MaxWaitMillis = int32(replicaFetchWait / time.Millisecond)
	req.MinBytes = 1
	req.MaxBytes = replicaFetchMaxBytes
	req.SessionEpoch = -1
	byTopic := map[string]int{}
	for _, p := range parts {
		i, ok := byTopic[p.Topic]
		if !ok {
			i = len(req.Topics)
			byTopic[p.Topic] = i
			t := kmsg.NewFetchRequestTopic()
			t.Topic = p.Topic
			req.Topics = append(req.Topics, t)
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p.Index
		rp.CurrentLeaderEpoch = states[p].epoch
		rp.FetchOffset = p.log.EndOffset()
		rp.LastFetchedEpoch = -1
		rp.LogStartOffset = p.log.StartOffset()
		rp.PartitionMaxBytes = replicaPartitionMax
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	kresp, err := pc.roundTrip(req, replicaFetchWait+replicaTimeout)
	if err != nil {
		return err
	}
	resp := kresp.(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		return kerr.ErrorForCode(resp.ErrorCode)
	}
	find := partitionFinder(parts)
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			p := find(rt.Topic, rp.Partition)
			if p == nil {
				continue
			}
			if rp.ErrorCode != 0 {
				err := kerr.ErrorForCode(rp.ErrorCode)
				if errors.Is(err, kerr.OffsetOutOfRange) && p.restartEmptyAt(rp.LogStartOffset) {
					continue // fetch again from the leader's log start
				}
				if errors.Is(err, kerr.OffsetOutOfRange) {
					// Truncate again: the leader's log may end below ours.
					f.resetTruncation(p, states[p].epoch)
				}
				f.backoff(p, states[p].epoch, err)
				continue
			}
			if err := f.appendFetched(p, rp.RecordBatches); err != nil {
				f.resetTruncation(p, states[p].epoch)
				f.backoff(p, states[p].epoch, err)
				continue
			}
			p.setFollowerHW(rp.HighWatermark)
		}
	}
	return nil
}

// appendFetched appends the whole batches of records and, under
// flush.policy=always, fsyncs them before the next fetch reports the new
// log end to the leader: an acknowledged record is then on the disks of
// the whole ISR.
func (f *fetcher) appendFetched(p *Partition, records []byte) error {
	appended := false
	for len(records) >= 12 {
		size := int64(int32(binary.BigEndian.Uint32(records[8:12]))) + 12
		if size < 12 || size > int64(len(records)) {
			break // the tail of a batch cut by the fetch's size limit
		}
		batch := records[:size]
		records = records[size:]
		if int64(binary.BigEndian.Uint64(batch)) < p.log.EndOffset() {
			continue // below the fetch offset: the rest of a batch we have
		}
		if err := p.appendFromLeader(batch); err != nil {
			return fmt.Errorf("append copied batch: %w", err)
		}
		appended = true
	}
	if appended {
		return p.Sync(p.log.EndOffset())
	}
	return nil
}

func (f *fetcher) backoff(p *Partition, epoch int32, err error) {
	f.mu.Lock()
	if st, ok := f.parts[p]; ok && st.epoch == epoch {
		st.backoff = time.Now().Add(replicaRetryBackoff)
	}
	f.mu.Unlock()
	p.logger.Debug("replica fetch of partition failed", "leader", f.leader, "err", err)
}

func (f *fetcher) markTruncated(p *Partition, epoch int32) {
	f.mu.Lock()
	if st, ok := f.parts[p]; ok && st.epoch == epoch {
		st.truncated = true
	}
	f.mu.Unlock()
}

func (f *fetcher) resetTruncation(p *Partition, epoch int32) {
	f.mu.Lock()
	if st, ok := f.parts[p]; ok && st.epoch == epoch {
		st.truncated = false
	}
	f.mu.Unlock()
}

func partitionFinder(parts []*Partition) func(topic string, index int32) *Partition {
	type key struct {
		topic string
		index int32
	}
	m := make(map[key]*Partition, len(parts))
	for _, p := range parts {
		m[key{p.Topic, p.Index}] = p
	}
	return func(topic string, index int32) *Partition { return m[key{topic, index}] }
}
