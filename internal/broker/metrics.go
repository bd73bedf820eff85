package broker

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/meta"
	"github.com/ferry-mq/ferry/internal/metrics"
)

// brokerMetrics holds the instruments the broker feeds as things happen;
// everything else is read from the partitions and coordinators when
// scraped (collectMetrics).
type brokerMetrics struct {
	sink        metrics.Sink
	fsync       metrics.Histogram
	groupCommit metrics.Histogram
	txnCommit   metrics.Counter
	txnAbort    metrics.Counter
	txnTimeout  metrics.Counter
	isrShrinks  metrics.Counter
	schedLate   metrics.Histogram
	isrExpands  metrics.Counter
	reassigned  metrics.Counter
}

func newBrokerMetrics(sink metrics.Sink) brokerMetrics {
	sink = metrics.OrNop(sink)
	return brokerMetrics{
		sink:        sink,
		fsync:       sink.Histogram(metrics.FsyncDuration),
		groupCommit: sink.Histogram(metrics.GroupCommitBatches),
		txnCommit:   sink.Counter(metrics.TxnEnded, "commit"),
		txnAbort:    sink.Counter(metrics.TxnEnded, "abort"),
		txnTimeout:  sink.Counter(metrics.TxnTimedOut),
		isrShrinks:  sink.Counter(metrics.ISRShrinks),
		schedLate:   sink.Histogram(metrics.ScheduleLateness),
		isrExpands:  sink.Counter(metrics.ISRExpands),
		reassigned:  sink.Counter(metrics.ReassignmentBytes),
	}
}

func (m *brokerMetrics) observeFsync(took time.Duration) { m.fsync.Observe(took.Seconds()) }

func (m *brokerMetrics) observeGroupCommit(batches int64) { m.groupCommit.Observe(float64(batches)) }

// txnEnded counts a transaction whose markers are written.
func (m *brokerMetrics) txnEnded(commit bool) {
	if commit {
		m.txnCommit.Add(1)
	} else {
		m.txnAbort.Add(1)
	}
}

func (m *brokerMetrics) txnTimedOut() { m.txnTimeout.Add(1) }

// isrChanged counts a change of the ISR of a partition led here, when the
// placement holding it is applied.
func (m *brokerMetrics) isrChanged(shrunk bool) {
	if shrunk {
		m.isrShrinks.Add(1)
	} else {
		m.isrExpands.Add(1)
	}
}

// partitionTraffic counts what producers and consumers moved through a
// partition since it was opened: one atomic add per batch appended and per
// partition fetched, read only when scraped.
type partitionTraffic struct {
	recordsIn, bytesIn, recordsOut, bytesOut atomic.Int64
	// fetchLag is, on a follower, the leader's high watermark minus this
	// replica's log end at the last fetch.
	fetchLag atomic.Int64
}

// CountFetched adds records and bytes sent to a consumer (not a replica)
// to the partition's traffic.
func (p *Partition) CountFetched(records, bytes int64) {
	p.traffic.recordsOut.Add(records)
	p.traffic.bytesOut.Add(bytes)
}

// collectMetrics reports what is read, not counted: partition offsets and
// sizes, traffic totals, group lag and state, the node's role. Past
// --metrics-max-partitions, per-partition series are summed per topic with
// partition="all" (and dropped altogether if even the topics are too
// many), so a scrape's size stays bounded.
func (b *Broker) collectMetrics(emit metrics.Emit) {
	select {
	case <-b.stop:
		return // closed: its partitions are gone
	default:
	}
	parts := b.allPartitions()
	img := b.Image()
	led, underReplicated := 0, 0
	var followed []*Partition
	for _, p := range parts {
		t, ok := img.Topic(p.Topic)
		if !ok {
			continue
		}
		pl := b.PartitionPlacement(t, p.Index)
		switch {
		case pl.Leader == b.cfg.NodeID:
			led++
			if len(pl.ISR) < len(pl.Replicas) {
				underReplicated++
			}
		case pl.Leader >= 0:
			followed = append(followed, p)
		}
	}
	if s, err := b.Scheduler(); err == nil {
		st := s.Stats()
		emit(metrics.SchedulePending, float64(st.Loaded))
		emit(metrics.ScheduleBuckets, float64(st.Buckets))
		emit(metrics.ScheduleMessages, float64(st.Delivered), "delivered")
		emit(metrics.ScheduleMessages, float64(st.Cancelled), "cancelled")
		emit(metrics.ScheduleMessages, float64(st.Dropped), "dropped")
	}
	emit(metrics.BrokerPartitions, float64(len(parts)))
	emit(metrics.BrokerPartitionsLed, float64(led))
	emit(metrics.UnderReplicatedPartitions, float64(underReplicated))
	controller := b.Controller()
	emit(metrics.ControllerID, float64(controller))
	emit(metrics.ActiveController, boolGauge(controller == b.cfg.NodeID))
	if controller == b.cfg.NodeID {
		// As in Kafka, the active controller reports offline partitions.
		emit(metrics.OfflinePartitions, float64(offlinePartitions(b, img)))
	}

	limit := b.cfg.MetricsMaxPartitions
	capped := len(parts) > limit
	if capped {
		b.collectTopicTotals(emit, parts, limit)
	} else {
		for _, p := range parts {
			emitPartition(emit, p.Topic, strconv.Itoa(int(p.Index)), partitionSample(p))
		}
		for _, p := range followed {
			emit(metrics.ReplicaFetchLag, float64(p.traffic.fetchLag.Load()), p.Topic, strconv.Itoa(int(p.Index)))
		}
	}
	// Moves are few whatever the partition count: never capped.
	for _, p := range parts {
		if lag, moving := p.reassignmentLag(); moving {
			emit(metrics.ReassignmentLag, float64(lag), p.Topic, strconv.Itoa(int(p.Index)))
		}
	}
	if b.collectGroups(emit, limit) {
		capped = true
	}
	emit(metrics.PartitionSeriesCapped, boolGauge(capped))
}

// offlinePartitions counts the partitions of the image without a leader.
func offlinePartitions(b *Broker, img *meta.Image) int {
	n := 0
	for _, t := range img.Topics() {
		for i := range t.Placement {
			if b.PartitionPlacement(t, int32(i)).Leader < 0 {
				n++
			}
		}
	}
	return n
}

// partitionValues are one partition's scraped values, or a topic's sums.
type partitionValues struct {
	recordsIn, bytesIn, recordsOut, bytesOut int64
	logEnd, highWatermark, logStart, size    int64
}

func partitionSample(p *Partition) partitionValues {
	l := p.log
	return partitionValues{
		recordsIn: p.traffic.recordsIn.Load(), bytesIn: p.traffic.bytesIn.Load(),
		recordsOut: p.traffic.recordsOut.Load(), bytesOut: p.traffic.bytesOut.Load(),
		logEnd: l.EndOffset(), highWatermark: l.HighWatermark(), logStart: l.StartOffset(), size: l.Size(),
	}
}

func (v *partitionValues) add(o partitionValues) {
	v.recordsIn += o.recordsIn
	v.bytesIn += o.bytesIn
	v.recordsOut += o.recordsOut
	v.bytesOut += o.bytesOut
	v.logEnd += o.logEnd
	v.highWatermark += o.highWatermark
	v.logStart += o.logStart
	v.size += o.size
}

func emitPartition(emit metrics.Emit, topic, partition string, v partitionValues) {
	emit(metrics.PartitionRecordsIn, float64(v.recordsIn), topic, partition)
	emit(metrics.PartitionBytesIn, float64(v.bytesIn), topic, partition)
	emit(metrics.PartitionRecordsOut, float64(v.recordsOut), topic, partition)
	emit(metrics.PartitionBytesOut, float64(v.bytesOut), topic, partition)
	emit(metrics.PartitionLogEndOffset, float64(v.logEnd), topic, partition)
	emit(metrics.PartitionHighWatermark, float64(v.highWatermark), topic, partition)
	emit(metrics.PartitionLogStartOffset, float64(v.logStart), topic, partition)
	emit(metrics.PartitionSizeBytes, float64(v.size), topic, partition)
}

// collectTopicTotals emits per-topic sums (offsets summed too, so rates of
// the end offset still read as records per second).
func (b *Broker) collectTopicTotals(emit metrics.Emit, parts []*Partition, limit int) {
	sums := map[string]*partitionValues{}
	for _, p := range parts {
		s := sums[p.Topic]
		if s == nil {
			s = &partitionValues{}
			sums[p.Topic] = s
		}
		s.add(partitionSample(p))
	}
	if len(sums) > limit {
		return
	}
	for topic, v := range sums {
		emitPartition(emit, topic, "all", *v)
	}
}

// collectGroups emits each group's state, members and lag per partition
// with a committed offset (high watermark minus the commit, never below
// 0). It reports whether the lag series were summed per topic to stay
// within limit.
// Only the groups coordinated here are reported: every broker reports
// its own.
func (b *Broker) collectGroups(emit metrics.Emit, limit int) bool {
	type lagKey struct {
		group, topic string
		partition    int32
	}
	var lags []struct {
		key lagKey
		lag int64
	}
	for _, c := range b.GroupCoordinators() {
		listReq := kmsg.NewPtrListGroupsRequest()
		listReq.Version = 5
		list := c.ListGroups(listReq)
		if len(list.Groups) == 0 {
			continue
		}
		fetchReq := kmsg.NewPtrOffsetFetchRequest()
		fetchReq.Version = 8
		descReq := kmsg.NewPtrDescribeGroupsRequest()
		descReq.Version = 5
		for _, g := range list.Groups {
			emit(metrics.GroupState, 1, g.Group, g.GroupState)
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group = g.Group
			fetchReq.Groups = append(fetchReq.Groups, rg) // Topics nil: every commit
			descReq.Groups = append(descReq.Groups, g.Group)
		}
		for _, dg := range c.DescribeGroups(descReq).Groups {
			if dg.ErrorCode == 0 {
				emit(metrics.GroupMembers, float64(len(dg.Members)), dg.Group)
			}
		}
		for _, g := range c.FetchOffsets(fetchReq).Groups {
			for _, t := range g.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 || p.Offset < 0 {
						continue
					}
					part, err := b.Partition(t.Topic, p.Partition)
					if err != nil {
						continue // deleted, or led by another node
					}
					lag := max(part.log.HighWatermark()-p.Offset, 0)
					lags = append(lags, struct {
						key lagKey
						lag int64
					}{lagKey{g.Group, t.Topic, p.Partition}, lag})
				}
			}
		}
	}
	if len(lags) <= limit {
		for _, l := range lags {
			emit(metrics.GroupLag, float64(l.lag), l.key.group, l.key.topic, strconv.Itoa(int(l.key.partition)))
		}
		return false
	}
	sums := map[lagKey]int64{}
	for _, l := range lags {
		sums[lagKey{l.key.group, l.key.topic, -1}] += l.lag
	}
	if len(sums) <= limit {
		for k, v := range sums {
			emit(metrics.GroupLag, float64(v), k.group, k.topic, "all")
		}
	}
	return true
}

func boolGauge(v bool) float64 {
	if v {
		return 1
	}
	return 0
}
