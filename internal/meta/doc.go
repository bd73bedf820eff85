// Package meta holds the cluster's metadata: topics, partitions, configs and
// producer-id blocks, as records in one ordered, durable log applied to an
// immutable in-memory Image.
//
// Nothing else writes metadata. On one node the log is the local file below;
// when clustering lands the same records become the entries of a Raft log
// and Update runs on the controller.
//
// On-disk format: DIR/metadata.log is a sequence of frames
//
//	+----------------+----------------+---------------------------+
//	| length uint32  | crc32c uint32  | payload (length bytes)    |
//	+----------------+----------------+---------------------------+
//
// big-endian, the CRC (Castagnoli) covering the payload. The payload is one
// JSON-encoded Record. Every Update appends its records as frames and
// fsyncs before the new Image is published. At Open the frames are replayed
// in order; a torn or corrupt tail (short frame, bad CRC, undecodable
// payload) is truncated away and logged, since an Update that did not
// complete its fsync was never acknowledged.
package meta
