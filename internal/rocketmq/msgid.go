package rocketmq

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"strings"

	"github.com/ferry-mq/ferry/internal/meta"
)

// Message ids (offsetMsgId), the scheme in doc.go: 16 bytes, 32 upper-case
// hex characters:
//
//	store host IPv4 (4) | store port (4) | commit-log offset (8)
//
// where Ferry's commit-log offset is partitionHash(topic, partition) << 40
// | record offset. RocketMQ clients compute the same id from a pulled
// message's store host and commit-log offset, so pull responses must put
// CommitLogOffset(topic, partition, offset) there.

const (
	offsetBits = 40 // record offsets below 2^40 (about 10^12)
	hashBits   = 23 // keeps the commit-log offset positive
)

// partitionHash is the 23-bit FNV-1a hash of "topic/partition" (the Ferry
// topic name).
func partitionHash(topic string, partition int32) uint64 {
	h := fnv.New64a()
	h.Write([]byte(topic))
	h.Write([]byte{'/'})
	h.Write(strconv.AppendInt(nil, int64(partition), 10))
	sum := h.Sum64()
	return (sum ^ sum>>hashBits ^ sum>>(2*hashBits)) & (1<<hashBits - 1)
}

// CommitLogOffset is the commit-log offset RocketMQ clients see for the
// record at offset of (Ferry) topic's partition.
func CommitLogOffset(topic string, partition int32, offset int64) int64 {
	return int64(partitionHash(topic, partition)<<offsetBits | uint64(offset)&(1<<offsetBits-1))
}

// MessageID is the offsetMsgId of a record stored on the node whose
// RocketMQ address is storeAddr (host:port; a host that is no IPv4
// address is written as 0.0.0.0).
func MessageID(storeAddr, topic string, partition int32, offset int64) string {
	var id [16]byte
	putStoreHost(id[:8], storeAddr)
	binary.BigEndian.PutUint64(id[8:], uint64(CommitLogOffset(topic, partition, offset)))
	return strings.ToUpper(hex.EncodeToString(id[:]))
}

// putStoreHost writes storeAddr as IPv4 and port, 8 bytes.
func putStoreHost(dst []byte, storeAddr string) {
	host, port, _ := net.SplitHostPort(storeAddr)
	if ip := net.ParseIP(host).To4(); ip != nil {
		copy(dst[:4], ip)
	}
	p, _ := strconv.Atoi(port)
	binary.BigEndian.PutUint32(dst[4:8], uint32(p))
}

// DecodedID is what a message id says.
type DecodedID struct {
	StoreAddr string // host:port of the node that stored it
	Hash      uint64 // partitionHash of its topic and partition
	Offset    int64  // its record offset
}

// DecodeMessageID parses an offsetMsgId. Which partition it names is
// found by hashing the candidates (Broker's topics) with Matches.
func DecodeMessageID(id string) (DecodedID, error) {
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 16 {
		return DecodedID{}, fmt.Errorf("message id %q is not 32 hex characters", id)
	}
	port := binary.BigEndian.Uint32(b[4:8])
	clo := binary.BigEndian.Uint64(b[8:])
	return DecodedID{
		StoreAddr: net.JoinHostPort(net.IP(b[:4]).String(), strconv.FormatUint(uint64(port), 10)),
		Hash:      clo >> offsetBits,
		Offset:    int64(clo & (1<<offsetBits - 1)),
	}, nil
}

// Matches reports whether the id may name a record of topic's partition
// (hash collisions are possible: a caller checks each match).
func (d DecodedID) Matches(topic string, partition int32) bool {
	return partitionHash(topic, partition) == d.Hash
}

// SplitCommitLogOffset splits a commit-log offset (CommitLogOffset) into
// its partition hash and record offset.
func SplitCommitLogOffset(v int64) (hash uint64, offset int64) {
	return uint64(v) >> offsetBits, v & (1<<offsetBits - 1)
}

// PartitionOf finds the partition of t a commit-log offset names (the
// lowest-numbered one on a hash collision within t); ok is false when none
// matches.
func PartitionOf(t *meta.Topic, commitLogOffset int64) (partition int32, offset int64, ok bool) {
	hash, offset := SplitCommitLogOffset(commitLogOffset)
	for p := int32(0); p < t.Partitions; p++ {
		if partitionHash(t.Name, p) == hash {
			return p, offset, true
		}
	}
	return 0, 0, false
}

// Location is where a message id may point: a Ferry topic, partition and
// record offset.
type Location struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Locate lists the partitions among the broker's topics that a message
// id may name (more than one only on a hash collision: check each).
func (s *Server) Locate(id string) ([]Location, error) {
	d, err := DecodeMessageID(id)
	if err != nil {
		return nil, err
	}
	var locs []Location
	for _, t := range s.broker.Image().Topics() {
		for p := int32(0); p < t.Partitions; p++ {
			if d.Matches(t.Name, p) {
				locs = append(locs, Location{t.Name, p, d.Offset})
			}
		}
	}
	return locs, nil
}
