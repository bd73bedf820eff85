package metrics

// Every metric Ferry reports. README's metrics table lists each one (a test
// checks it); keep the two together when adding one.

// Label names shared by several metrics.
var (
	topicPartition = []string{"topic", "partition"}
	apiLabel       = []string{"api"}
)

// DurationBuckets are the default histogram buckets, in seconds: 100µs to
// about 13s, doubling.
var DurationBuckets = []float64{
	0.0001, 0.0002, 0.0004, 0.0008, 0.0016, 0.0032, 0.0064, 0.0128, 0.0256, 0.0512,
	0.1024, 0.2048, 0.4096, 0.8192, 1.6384, 3.2768, 6.5536, 13.1072,
}

// Requests of the Kafka protocol, counted as they are answered.
var (
	KafkaRequests = &Desc{Name: "ferry_kafka_requests_total", Kind: KindCounter, Labels: apiLabel,
		Help: "Kafka protocol requests answered, by API.",
		Like: "kafka.network RequestsPerSec; redpanda_kafka_request_latency_seconds_count"}
	KafkaRequestErrors = &Desc{Name: "ferry_kafka_request_errors_total", Kind: KindCounter, Labels: []string{"api", "error"},
		Help: "Error codes in Kafka responses, by API and error name; a response with errors on several partitions counts each.",
		Like: "kafka.network ErrorsPerSec{request,error}"}
	KafkaRequestDuration = &Desc{Name: "ferry_kafka_request_duration_seconds", Kind: KindHistogram, Labels: apiLabel,
		Help: "Time from a request's last byte read to its response written, by API; includes long-poll waits of Fetch.",
		Like: "kafka.network TotalTimeMs; redpanda_kafka_request_latency_seconds"}
	KafkaSlowRequests = &Desc{Name: "ferry_kafka_slow_requests_total", Kind: KindCounter, Labels: apiLabel,
		Help: "Requests slower than --slow-request (Fetch's long-poll wait not counted), each also logged at WARN.",
		Like: "(none)"}
	KafkaConnections = &Desc{Name: "ferry_kafka_connections", Kind: KindGauge, Scraped: true,
		Help: "Open Kafka client connections.",
		Like: "kafka.server connection-count; redpanda_rpc_active_connections"}
	KafkaRequestBytesInFlight = &Desc{Name: "ferry_kafka_request_bytes_in_flight", Kind: KindGauge, Scraped: true,
		Help: "Bytes of requests read and not yet handled (counted against --queued-max-request-bytes).",
		Like: "kafka.network MemoryPoolUsed"}
	ProducePurgatory = &Desc{Name: "ferry_produce_purgatory_requests", Kind: KindGauge,
		Help: "Produce requests appended and waiting to be acknowledged: for the fsync under flush.policy=always, for the ISR under acks=all.",
		Like: "kafka.server DelayedOperationPurgatory PurgatorySize{delayedOperation=Produce}"}
	FetchPurgatory = &Desc{Name: "ferry_fetch_purgatory_requests", Kind: KindGauge,
		Help: "Fetch requests parked until data arrives or max_wait_ms passes.",
		Like: "kafka.server DelayedOperationPurgatory PurgatorySize{delayedOperation=Fetch}"}
)

// The partition log's durability work.
var (
	FsyncDuration = &Desc{Name: "ferry_log_fsync_duration_seconds", Kind: KindHistogram,
		Help: "Time of each fsync of a partition's log (group commits, rolls, interval flushes).",
		Like: "kafka.log LogFlushRateAndTimeMs; redpanda_storage_log_flush*"}
	GroupCommitBatches = &Desc{Name: "ferry_log_group_commit_batches", Kind: KindHistogram,
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
		Help:    "Appended record batches made durable by one group-commit fsync.",
		Like:    "(none)"}
)

// Per partition, read from the broker at scrape time. Past
// --metrics-max-partitions they are summed per topic with partition="all".
var (
	PartitionRecordsIn = &Desc{Name: "ferry_partition_records_in_total", Kind: KindCounter, Labels: topicPartition, Scraped: true,
		Help: "Records appended by producers since the broker started.",
		Like: "kafka.server BrokerTopicMetrics MessagesInPerSec; redpanda_kafka_records_produced_total"}
	PartitionBytesIn = &Desc{Name: "ferry_partition_bytes_in_total", Kind: KindCounter, Labels: topicPartition, Scraped: true,
		Help: "Record batch bytes appended by producers since the broker started.",
		Like: "kafka.server BrokerTopicMetrics BytesInPerSec; redpanda_kafka_request_bytes_total{request=produce}"}
	PartitionRecordsOut = &Desc{Name: "ferry_partition_records_out_total", Kind: KindCounter, Labels: topicPartition, Scraped: true,
		Help: "Records sent to consumers (fetches by clients, not replicas) since the broker started, as batch headers count them.",
		Like: "redpanda_kafka_records_fetched_total"}
	PartitionBytesOut = &Desc{Name: "ferry_partition_bytes_out_total", Kind: KindCounter, Labels: topicPartition, Scraped: true,
		Help: "Record batch bytes sent to consumers (not replicas) since the broker started.",
		Like: "kafka.server BrokerTopicMetrics BytesOutPerSec; redpanda_kafka_request_bytes_total{request=consume}"}
	PartitionLogEndOffset = &Desc{Name: "ferry_partition_log_end_offset", Kind: KindGauge, Labels: topicPartition, Scraped: true,
		Help: "Offset after the last record appended.",
		Like: "kafka.log Log LogEndOffset"}
	PartitionHighWatermark = &Desc{Name: "ferry_partition_high_watermark", Kind: KindGauge, Labels: topicPartition, Scraped: true,
		Help: "Offset up to which consumers may read.",
		Like: "redpanda_kafka_max_offset"}
	PartitionLogStartOffset = &Desc{Name: "ferry_partition_log_start_offset", Kind: KindGauge, Labels: topicPartition, Scraped: true,
		Help: "First offset still in the log (retention moves it).",
		Like: "kafka.log Log LogStartOffset"}
	PartitionSizeBytes = &Desc{Name: "ferry_partition_size_bytes", Kind: KindGauge, Labels: topicPartition, Scraped: true,
		Help: "Bytes of the partition's segments on disk.",
		Like: "kafka.log Log Size; redpanda_storage_disk_partition_size"}
	PartitionSeriesCapped = &Desc{Name: "ferry_metrics_partition_series_capped", Kind: KindGauge, Scraped: true,
		Help: "1 when the broker has more partitions (or group lag series) than --metrics-max-partitions and per-partition series are summed per topic.",
		Like: "(none)"}
)

// Consumer groups, read from the coordinator at scrape time.
var (
	GroupLag = &Desc{Name: "ferry_group_lag", Kind: KindGauge, Labels: []string{"group", "topic", "partition"}, Scraped: true,
		Help: "High watermark minus the group's committed offset, per partition with a commit (summed per topic past --metrics-max-partitions).",
		Like: "kafka_consumergroup_lag (kafka-exporter); redpanda_kafka_consumer_group_lag_sum"}
	GroupState = &Desc{Name: "ferry_group_state", Kind: KindGauge, Labels: []string{"group", "state"}, Scraped: true,
		Help: "1 for the group's current state (Empty, PreparingRebalance, CompletingRebalance, Stable; KIP-848 groups report theirs).",
		Like: "kafka.coordinator.group NumGroups{state}"}
	GroupMembers = &Desc{Name: "ferry_group_members", Kind: KindGauge, Labels: []string{"group"}, Scraped: true,
		Help: "Members of the group.",
		Like: "redpanda_kafka_consumer_group_consumers"}
)

// Transactions.
var (
	TxnEnded = &Desc{Name: "ferry_txn_ended_total", Kind: KindCounter, Labels: []string{"outcome"},
		Help: "Transactions completed (markers written), by outcome: commit or abort (timeouts included).",
		Like: "kafka.coordinator.transaction (commit/abort rates)"}
	TxnTimedOut = &Desc{Name: "ferry_txn_timed_out_total", Kind: KindCounter,
		Help: "Transactions the coordinator aborted because they outlived their timeout.",
		Like: "(none)"}
)

// The scheduler of delayed messages (internal/schedule), on the node
// leading __scheduled.
var (
	SchedulePending = &Desc{Name: "ferry_schedule_pending_loaded", Kind: KindGauge, Scraped: true,
		Help: "Scheduled messages due within the next two minutes, held in memory; later ones wait in index files on disk.",
		Like: "(none)"}
	ScheduleBuckets = &Desc{Name: "ferry_schedule_index_buckets", Kind: KindGauge, Scraped: true,
		Help: "Files of the scheduler's bucket index (minute buckets up to the end of tomorrow, day buckets after).",
		Like: "(none)"}
	ScheduleLateness = &Desc{Name: "ferry_schedule_lateness_seconds", Kind: KindHistogram,
		Help: "For each delivered scheduled message: from its due time until its target partition acknowledged it (durable, replicated).",
		Like: "(none)"}
	ScheduleMessages = &Desc{Name: "ferry_schedule_messages_total", Kind: KindCounter, Labels: []string{"outcome"}, Scraped: true,
		Help: "Scheduled messages that fell due since start, by outcome: delivered, cancelled, or dropped (target gone or unreadable).",
		Like: "(none)"}
)

// The node and the cluster.
var (
	BrokerPartitions = &Desc{Name: "ferry_broker_partitions", Kind: KindGauge, Scraped: true,
		Help: "Partitions open on this node.",
		Like: "kafka.server ReplicaManager PartitionCount"}
	BrokerPartitionsLed = &Desc{Name: "ferry_broker_partitions_led", Kind: KindGauge, Scraped: true,
		Help: "Partitions this node leads.",
		Like: "kafka.server ReplicaManager LeaderCount"}
	ControllerID = &Desc{Name: "ferry_cluster_controller_id", Kind: KindGauge, Scraped: true,
		Help: "Node id of the active controller as this node knows it; -1 when none is known.",
		Like: "kafka.controller ActiveControllerId"}
	ActiveController = &Desc{Name: "ferry_cluster_active_controller", Kind: KindGauge, Scraped: true,
		Help: "1 on the node that is the active controller (a single node always is).",
		Like: "kafka.controller ActiveControllerCount"}
	Ready = &Desc{Name: "ferry_ready", Kind: KindGauge, Scraped: true,
		Help: "1 once log recovery is done, the listeners are up and (in a cluster) the node is registered: what /readyz says.",
		Like: "(none)"}
	UnderReplicatedPartitions = &Desc{Name: "ferry_cluster_under_replicated_partitions", Kind: KindGauge, Scraped: true,
		Help: "Partitions led here whose ISR (as the controller has it) is smaller than their replica set.",
		Like: "kafka.server ReplicaManager UnderReplicatedPartitions"}
	OfflinePartitions = &Desc{Name: "ferry_cluster_offline_partitions", Kind: KindGauge, Scraped: true,
		Help: "Partitions without a leader; reported by the active controller only.",
		Like: "kafka.controller OfflinePartitionsCount"}
	ISRShrinks = &Desc{Name: "ferry_cluster_isr_shrinks_total", Kind: KindCounter,
		Help: "ISR shrinks of partitions led here (the leader dropping a lagging follower, or the controller fencing a broker), counted when applied.",
		Like: "kafka.server ReplicaManager IsrShrinksPerSec"}
	ISRExpands = &Desc{Name: "ferry_cluster_isr_expands_total", Kind: KindCounter,
		Help: "ISR expansions of partitions led here: a caught-up replica added back.",
		Like: "kafka.server ReplicaManager IsrExpandsPerSec"}
	ReplicaFetchLag = &Desc{Name: "ferry_replica_fetch_lag", Kind: KindGauge, Labels: topicPartition, Scraped: true,
		Help: "On a follower, per followed partition: the leader's high watermark at the last fetch minus this replica's log end (not reported past --metrics-max-partitions).",
		Like: "kafka.server ReplicaFetcherManager MaxLag"}
	ReassignmentBytes = &Desc{Name: "ferry_reassignment_bytes_total", Kind: KindCounter,
		Help: "Bytes this leader served to replicas a reassignment adds (what --replication-throttle limits).",
		Like: "kafka.server BrokerTopicMetrics ReassignmentBytesOutPerSec"}
	ReassignmentLag = &Desc{Name: "ferry_reassignment_lag_offsets", Kind: KindGauge, Labels: topicPartition, Scraped: true,
		Help: "On the leader of a partition being moved: offsets the slowest replica the move adds still lacks (its last fetch offset to the log end); the move completes once that replica is in sync.",
		Like: "(none; kafka-reassign-partitions --verify)"}
)

// Requests of the RocketMQ remoting protocol (internal/rocketmq).
var (
	RocketMQRequests = &Desc{Name: "ferry_rocketmq_requests_total", Kind: KindCounter, Labels: []string{"code"},
		Help: "RocketMQ remoting requests received, by request code (a number; codes Ferry does not serve count as \"unsupported\").",
		Like: "(none)"}
	RocketMQConnections = &Desc{Name: "ferry_rocketmq_connections", Kind: KindGauge, Scraped: true,
		Help: "Open RocketMQ client connections.",
		Like: "(none)"}
)

// All lists every Desc, for the README check and the dashboard test.
var All = []*Desc{
	KafkaRequests, KafkaRequestErrors, KafkaRequestDuration, KafkaSlowRequests,
	KafkaConnections, KafkaRequestBytesInFlight, ProducePurgatory, FetchPurgatory,
	FsyncDuration, GroupCommitBatches,
	PartitionRecordsIn, PartitionBytesIn, PartitionRecordsOut, PartitionBytesOut,
	PartitionLogEndOffset, PartitionHighWatermark, PartitionLogStartOffset, PartitionSizeBytes,
	PartitionSeriesCapped,
	GroupLag, GroupState, GroupMembers,
	TxnEnded, TxnTimedOut,
	SchedulePending, ScheduleBuckets, ScheduleLateness, ScheduleMessages,
	BrokerPartitions, BrokerPartitionsLed, ControllerID, ActiveController, Ready,
	UnderReplicatedPartitions, OfflinePartitions, ISRShrinks, ISRExpands, ReplicaFetchLag,
	ReassignmentBytes, ReassignmentLag,
	RocketMQRequests, RocketMQConnections,
}
