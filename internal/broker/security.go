package broker

import "github.com/ferry-mq/ferry/internal/meta"

// UpdateSecurity changes ACL bindings and client quotas: fn returns the
// ACL and quota records to write given the current image (as
// meta.Store.Update). Other kinds of record are refused, so this stays the
// one path for security metadata and nothing else.
func (b *Broker) UpdateSecurity(fn func(*meta.Image) ([]meta.Record, error)) (*meta.Image, error) {
	return b.meta.Update(func(img *meta.Image) ([]meta.Record, error) {
		recs, err := fn(img)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if r.ACL == nil && r.Quota == nil {
				return nil, errNotSecurityRecord
			}
		}
		if len(recs) == 0 {
			return nil, meta.ErrNoChange
		}
		return recs, nil
	})
}

type notSecurityRecord struct{}

func (notSecurityRecord) Error() string {
	return "broker: UpdateSecurity writes ACL and quota records only"
}

var errNotSecurityRecord error = notSecurityRecord{}
