// Package rocketmq serves RocketMQ's remoting protocol on top of the
// broker, so that RocketMQ clients (rocketmq-client-go/v2, the Java
// client) produce to and consume from the same partition logs Kafka
// clients use. One listener (--rocketmq-addr) serves both the NameServer
// role (routes, cluster info) and the broker role.
//
// # Frames
//
// Every request and response is one frame (codec.go):
//
//	+--------+---------------+----------------+--------+------+
//	| length | type | hlen   | header         | body          |
//	| 4 B BE | 1 B  | 3 B BE | hlen bytes     | the rest      |
//	+--------+---------------+----------------+---------------+
//
// length counts everything after itself. type is the header's encoding:
// 0 JSON ({"code","language","version","opaque","flag","remark",
// "extFields"}) as rocketmq-client-go sends by default, 1 RocketMQ's
// binary form (code 2, language 1, version 2, opaque 4, flag 4, remark
// length 4 + remark, ext length 4 + ext fields as key length 2 + key,
// value length 4 + value). A response echoes the request's opaque and
// encoding and sets flag bit 0; flag bit 1 marks a oneway request, which
// gets no response. A frame longer than --max-request-bytes, or one that
// does not parse, closes the connection with a logged reason (the stream
// cannot be resynchronised); an unknown request code is answered
// REQUEST_CODE_NOT_SUPPORTED. A frame's buffer grows as its bytes arrive,
// each growth taken first from the listener's request budget
// (--queued-max-request-bytes, internal/reqbudget) and given back once the
// frame is handled; a frame begun must be complete within
// --request-read-timeout.
//
// Each request code has its own file, named by number and name
// (10_send_message.go, 105_get_routeinfo_by_topic.go …), registering its
// handler from init (registry.go). Requests of a connection are handled
// in order on its read goroutine; waits (fsync, replication, long polls)
// run off it through Conn.Later.
//
// # Topics, queues, brokers
//
// A RocketMQ topic with N queues is the Ferry topic of the same name with
// N partitions; %RETRY%G is the Ferry topic G.retry and %DLQ%G is G.dlq
// (names.go); other names must be legal Kafka names. Each node is broker
// "ferry-<node id>", brokerId 0 (master), of cluster "ferry". On a single
// node queue i is partition i. On a cluster a topic's route lists, per
// node, the partitions it leads in ascending order, and that node's queue
// i is the i-th of them (route.go); a peer's RocketMQ address is its
// Kafka advertised host with its Kafka advertised port plus the distance
// between this node's Kafka and RocketMQ advertised ports, so every node
// must keep the same distance (`ferry cluster up` does: Kafka 9092+i,
// RocketMQ 9876+i). Queue offsets are record offsets. After a leader
// change a broker's queue i may name another partition; a client sending
// with an older route (refreshed every 30 s) then writes that partition.
//
// # Messages and records
//
//	RocketMQ message            Ferry record
//	body (decompressed)         value
//	KEYS property               key (as is: keys space-separated; none: nil)
//	every other property        header of the same name, string value
//	  (TAGS, UNIQ_KEY, DELAY, TRAN_MSG, PGROUP, user properties …)
//	flag (when not 0)           header rocketmq.flag, decimal
//	born timestamp              timestamp
//	queue offset                offset
//	store timestamp             timestamp (what a Kafka record has)
//
// Read back for RocketMQ consumers, a record's value is the body, its key
// the KEYS property and its headers the properties, so records written by
// Kafka producers read as messages too (message.go).
//
// # Message ids
//
// The offsetMsgId of a stored message (what SEND answers as msgId and
// VIEW_MESSAGE_BY_ID decodes) is 16 bytes, 32 upper-case hex characters:
//
//	+----------------+----------------+--------------------------------+
//	| store host     | store port     | commit-log offset              |
//	| IPv4, 4 B      | 4 B BE         | 8 B BE:                        |
//	|                |                | hash(topic/partition) << 40    |
//	|                |                |   | record offset              |
//	+----------------+----------------+--------------------------------+
//
// The store host and port are the RocketMQ address of the node that
// stored it (an address that is no IPv4 is written 0.0.0.0); the hash is
// 23 bits of FNV-1a over "<Ferry topic>/<partition>", so the commit-log
// offset stays positive and offsets up to 2^40 fit. RocketMQ clients
// compute a pulled message's offsetMsgId from its store host and
// commit-log offset the same way, so pull responses carry
// CommitLogOffset(topic, partition, offset). An id resolves to a record by
// hashing the broker's partitions (DecodeMessageID, DecodedID.Matches):
// no index is needed, and a hash collision means checking more than one
// partition. The client's own id (msgId, UNIQ_KEY) is kept as a header.
package rocketmq
