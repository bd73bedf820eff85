package msgext

import (
	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/rocketmq/filter"
)

// Matches reports whether the record passes the subscription filter. A tag
// filter looks at the TAGS header alone without allocating; an SQL92
// filter sees the same properties the encoding sends.
func Matches(f *filter.Filter, r log.StoredRecord) bool {
	if f.MatchesAll() {
		return true
	}
	if f.IsTagFilter() {
		var tag []byte
		found := false
		r.EachHeader(func(k, v []byte) bool {
			if string(k) == filter.TagsProperty {
				tag, found = v, true
				return false
			}
			return true
		})
		return f.MatchTag(tag, found)
	}
	return f.Match(recordProperties{r})
}

// recordProperties shows a record as the properties a client would see.
type recordProperties struct{ r log.StoredRecord }

func (p recordProperties) Property(name string) (string, bool) {
	if name == KeysProperty {
		if p.r.Key == nil || !clean(p.r.Key) {
			return "", false
		}
		return string(p.r.Key), true
	}
	if name == FlagHeader {
		return "", false
	}
	var value []byte
	found := false
	p.r.EachHeader(func(k, v []byte) bool {
		if string(k) == name && clean(v) {
			value, found = v, true // the last one wins, as in the client's map
		}
		return true
	})
	return string(value), found
}
