// Package msgext encodes stored records as RocketMQ MessageExt entries,
// the format PULL_MESSAGE answers carry in their body (and QUERY_MESSAGE
// and VIEW_MESSAGE_BY_ID answers too), and decides with a compiled
// subscription filter which records a consumer gets.
//
// One entry, all integers big-endian (RocketMQ's message format version 1,
// which every client decodes; hosts are 4-byte IPv4 + 4-byte port, or
// 16-byte IPv6 + port with sysFlag bits 4 (born) and 5 (store)):
//
//	totalSize        int32   size of the entry, this field included
//	magic            int32   0xDAA320A7
//	bodyCRC          int32   CRC-32 (IEEE) of the body, top bit cleared
//	queueId          int32   the partition
//	flag             int32   header "rocketmq.flag", else 0
//	queueOffset      int64   the record offset
//	commitLogOffset  int64   Queue.CommitLogOffset(offset): the message id's offset part
//	sysFlag          int32   host bits only: bodies are sent uncompressed
//	bornTimestamp    int64   record timestamp
//	bornHost         addr    unknown for stored records: 0.0.0.0:0
//	storeTimestamp   int64   record timestamp
//	storeHost        addr    the broker (Queue.StoreHost)
//	reconsumeTimes   int32   header RECONSUME_TIME, else 0
//	preparedTxOffset int64   0
//	bodyLength       int32   then the body: the record value
//	topicLength      int8    then the topic: the RocketMQ name the client asked for
//	propertiesLength int16   then the properties: name 0x01 value 0x02 ...
//
// Properties are KEYS (the record key, when it has one) and then every
// record header in order, except "rocketmq.flag", a header named KEYS,
// headers whose name or value holds 0x01 or 0x02 (they would break the
// format) and headers that would take the properties over 32767 bytes;
// those are left out rather than failing the pull.
package msgext
