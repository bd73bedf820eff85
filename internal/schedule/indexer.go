package schedule

import (
	"errors"
	"fmt"

	"github.com/ferry-mq/ferry/internal/log"
)

// readChunk is how many bytes of __scheduled one index read takes.
const readChunk = 1 << 20

// indexNew indexes the records of __scheduled between indexedTo and the
// high watermark.
func (s *Scheduler) indexNew() error {
	for s.indexedTo < s.log.HighWatermark() {
		data, err := s.log.Read(s.indexedTo, readChunk)
		if errors.Is(err, log.ErrOffsetOutOfRange) && s.indexedTo < s.log.StartOffset() {
			s.indexedTo = s.log.StartOffset()
			continue
		}
		if err != nil {
			return fmt.Errorf("read __scheduled at %d: %w", s.indexedTo, err)
		}
		if len(data) == 0 {
			break
		}
		err = log.EachBatch(data, func(batch []byte) error {
			h, recs, err := log.DecodeRecords(batch)
			if err != nil {
				if h.LastOffset() < s.indexedTo {
					return err
				}
				// Not ours to repair (the log's recovery and replication
				// are): skip what cannot be read, loudly.
				s.logger.Error("unreadable batch in __scheduled skipped; its messages are lost", "offset", h.BaseOffset, "err", err)
			}
			for i := range recs {
				if err := s.apply(&recs[i]); err != nil {
					return err
				}
			}
			s.indexedTo = h.LastOffset() + 1
			s.dirty = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("index __scheduled at %d: %w", s.indexedTo, err)
		}
		if err := s.ix.flush(); err != nil {
			return err
		}
	}
	return nil
}

// apply indexes one record of __scheduled.
func (s *Scheduler) apply(r *log.Record) error {
	if len(r.Key) == 0 {
		s.logger.Warn("keyless record in __scheduled ignored", "offset", r.Offset)
		return nil
	}
	switch r.Key[0] {
	case kindMessage:
		deliverAt, id, err := parseMessageKey(r.Key)
		if err != nil {
			s.logger.Warn("record in __scheduled ignored", "offset", r.Offset, "err", err)
			return nil
		}
		if r.Value == nil {
			return s.markDone(deliverAt, id)
		}
		s.addEntry(entry{deliverAt: deliverAt, id: id, offset: r.Offset})
	case kindCancel:
		if r.Value == nil {
			return nil
		}
		match := string(r.Key[1:])
		if r.Offset > s.cancels[match] {
			s.cancels[match] = r.Offset
		}
		return s.ix.appendCancel(r.Offset, match)
	default:
		s.logger.Warn("record of unknown kind in __scheduled ignored", "offset", r.Offset, "kind", r.Key[0])
	}
	return nil
}

func (s *Scheduler) addEntry(e entry) {
	s.ix.add(e)
	b := s.ix.bucketOf(e.deliverAt)
	if b >= s.loadedUpTo {
		return // read from its file when it comes due
	}
	ids := s.loaded[b]
	if ids == nil {
		ids = map[uint64]struct{}{}
		s.loaded[b] = ids
	}
	if _, dup := ids[e.id]; dup {
		return // indexed again after a restart
	}
	ids[e.id] = struct{}{}
	s.due.push(pending{entry: e, due: e.deliverAt})
}

// markDone records that a message was delivered or cancelled; a loaded
// bucket left with nothing pending is removed.
func (s *Scheduler) markDone(deliverAt int64, id uint64) error {
	b := s.ix.bucketOf(deliverAt)
	if b < s.loadedUpTo {
		ids, ok := s.loaded[b]
		if !ok {
			return nil // nothing pending there: already removed
		}
		delete(ids, id)
		if len(ids) == 0 {
			delete(s.loaded, b)
			return s.ix.remove(b)
		}
	}
	s.ix.done(deliverAt, id)
	return nil
}

// loadUpTo reads every bucket starting below to into memory.
func (s *Scheduler) loadUpTo(to int64) error {
	if to <= s.loadedUpTo {
		return nil
	}
	for _, b := range s.ix.bucketsBelow(s.loadedUpTo, to) {
		entries, err := s.ix.load(b)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			if err := s.ix.remove(b); err != nil {
				return err
			}
			continue
		}
		ids := make(map[uint64]struct{}, len(entries))
		for _, e := range entries {
			ids[e.id] = struct{}{}
			s.due.push(pending{entry: e, due: e.deliverAt})
		}
		s.loaded[b] = ids
	}
	s.loadedUpTo = to
	return nil
}
