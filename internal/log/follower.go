package log

import (
	"errors"
	"fmt"
)

// ErrNotAtLogEnd is returned by AppendAsFollower for a batch that does not
// start at the log end offset: the replica must truncate or fetch from its
// own end offset instead.
var ErrNotAtLogEnd = errors.New("log: follower batch does not start at the log end offset")

// AppendAsFollower appends a batch copied from the partition's leader,
// keeping its base offset and leader epoch. The batch must start at the log
// end offset (ErrNotAtLogEnd otherwise) and carry an epoch no lower than the
// log's latest (ErrEpochOrder); its header and CRC are validated as Append
// does, but its records are not decoded again (the leader did, and a
// compacted leader batch may hold fewer records than its offset range).
func (l *Log) AppendAsFollower(batch []byte) (AppendResult, error) {
	h, err := parseStoredBatch(batch)
	if err != nil {
		return AppendResult{}, err
	}
	return l.AppendFollowerParsed(batch, h)
}

// ParseFollowerBatch validates a batch copied from a leader as
// AppendAsFollower does, and returns its header and, for a control batch,
// its control type (ControlCommit, ControlAbort; else ControlNone).
func ParseFollowerBatch(batch []byte) (BatchHeader, int, error) {
	h, err := parseStoredBatch(batch)
	if err != nil {
		return h, ControlNone, err
	}
	control := ControlNone
	if h.Attributes&0x20 != 0 && h.Attributes&0x07 == 0 {
		control = controlTypeOf(batch[batchHeaderSize:])
	}
	return h, control, nil
}

// AppendFollowerParsed is AppendAsFollower for a batch ParseFollowerBatch
// has validated.
func (l *Log) AppendFollowerParsed(batch []byte, h BatchHeader) (AppendResult, error) {
	if h.PartitionLeaderEpoch < 0 {
		return AppendResult{}, fmt.Errorf("%w: batch at offset %d has no leader epoch (%d)", ErrEpochOrder, h.BaseOffset, h.PartitionLeaderEpoch)
	}
	l.appendMu.Lock()
	res, advanced, err := l.appendLocked(batch, h, true)
	l.appendMu.Unlock()
	l.appended(res, err)
	l.notify(advanced)
	return res, err
}
