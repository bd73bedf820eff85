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
// fsyncs before the new Image is published. Close writes an empty file
// DIR/clean-shutdown; Open removes it once the log replayed whole.
//
// At Open the frames are replayed in order. A bad frame (short, bad CRC,
// undecodable payload) is cut off only when it is a torn tail: the last
// Close was not clean and no valid frame can be found at any later byte
// (an Update that did not complete its fsync was never acknowledged). The
// cut bytes are kept in DIR/metadata.log.torn-at-<position> and the cut is
// logged at ERROR. Any other bad frame, damage in the middle of the log or
// at the end of a cleanly closed one, makes Open fail with ErrCorrupt
// naming the file and position: replaying past it could apply records out
// of order, and dropping what follows would lose topics silently (and let
// start-up remove their data), so the operator decides. There is no
// snapshot: the log is small and replays in milliseconds.
package meta
