package schedule

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record headers a Kafka producer uses on a topic with
// message.scheduling.enable=true. Values are decimal ASCII.
const (
	HeaderDeliverAt = "ferry-deliver-at-ms" // unix ms to deliver at
	HeaderDelay     = "ferry-delay-ms"      // ms after the broker receives it
	HeaderCancel    = "ferry-cancel"        // any value: cancel the key's scheduled records
)

// Action is what a produced record asks of the scheduler.
type Action int

const (
	Immediate  Action = iota // no scheduling header: an ordinary record
	Delayed                  // deliver at the returned time
	Cancelling               // cancel the scheduled records with its key
)

// FromHeaders reads the scheduling headers of a produced record. A record
// with both a delivery time and a delay, with a value that is not a
// non-negative decimal number, or cancelling without a key is refused with
// an error wrapping kerr.InvalidRecord.
func FromHeaders(headers []kmsg.Header, key []byte, now time.Time) (Action, time.Time, error) {
	var at, delay, cancel *kmsg.Header
	for i := range headers {
		switch h := &headers[i]; h.Key {
		case HeaderDeliverAt:
			at = h
		case HeaderDelay:
			delay = h
		case HeaderCancel:
			cancel = h
		}
	}
	switch {
	case cancel != nil:
		if at != nil || delay != nil {
			return 0, time.Time{}, fmt.Errorf("%w: a record with %s cannot also be scheduled", kerr.InvalidRecord, HeaderCancel)
		}
		if key == nil {
			return 0, time.Time{}, fmt.Errorf("%w: %s needs a record key: it cancels the scheduled records with that key", kerr.InvalidRecord, HeaderCancel)
		}
		return Cancelling, time.Time{}, nil
	case at != nil && delay != nil:
		return 0, time.Time{}, fmt.Errorf("%w: give %s or %s, not both", kerr.InvalidRecord, HeaderDeliverAt, HeaderDelay)
	case at != nil:
		ms, err := headerMillis(at)
		if err != nil {
			return 0, time.Time{}, err
		}
		return Delayed, time.UnixMilli(ms), nil
	case delay != nil:
		ms, err := headerMillis(delay)
		if err != nil {
			return 0, time.Time{}, err
		}
		if ms > math.MaxInt64-now.UnixMilli() {
			return 0, time.Time{}, fmt.Errorf("%w: %s=%d is past the end of time", kerr.InvalidRecord, HeaderDelay, ms)
		}
		return Delayed, time.UnixMilli(now.UnixMilli() + ms), nil
	}
	return Immediate, time.Time{}, nil
}

func headerMillis(h *kmsg.Header) (int64, error) {
	ms, err := strconv.ParseInt(string(h.Value), 10, 64)
	if err != nil || ms < 0 {
		return 0, fmt.Errorf("%w: header %s=%q is not a non-negative number of milliseconds", kerr.InvalidRecord, h.Key, h.Value)
	}
	return ms, nil
}
