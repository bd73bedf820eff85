package kafka

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// requestHeader is the part of every request before its body.
type requestHeader struct {
	key, version int16
	correlation  int32
	clientID     string
}

var errShortHeader = errors.New("request header is truncated")

// parseRequest splits a frame into its header and decoded request. An
// unknown key or unsupported version returns the header and an error; the
// caller decides whether that is answerable (ApiVersions) or fatal.
func parseRequest(frame []byte) (requestHeader, kmsg.Request, error) {
	var h requestHeader
	r := kbin.Reader{Src: frame}
	h.key = r.Int16()
	h.version = r.Int16()
	h.correlation = r.Int32()
	if cid := r.NullableString(); cid != nil {
		h.clientID = *cid
	}
	if err := r.Complete(); err != nil || len(frame) < 10 {
		return h, nil, errShortHeader
	}
	a, ok := apis[h.key]
	if !ok {
		return h, nil, fmt.Errorf("unsupported API key %d", h.key)
	}
	if h.version < a.min || h.version > a.max {
		return h, nil, errUnsupportedVersion{key: h.key, version: h.version, min: a.min, max: a.max}
	}
	req := kmsg.RequestForKey(h.key)
	req.SetVersion(h.version)
	if req.IsFlexible() {
		kmsg.SkipTags(&r)
		if err := r.Complete(); err != nil {
			return h, nil, errShortHeader
		}
	}
	if err := req.ReadFrom(r.Src); err != nil {
		return h, nil, fmt.Errorf("decode %s v%d: %w", kmsg.NameForKey(h.key), h.version, err)
	}
	return h, req, nil
}

type errUnsupportedVersion struct{ key, version, min, max int16 }

func (e errUnsupportedVersion) Error() string {
	return fmt.Sprintf("%s v%d is not supported (versions %d-%d are)", kmsg.NameForKey(e.key), e.version, e.min, e.max)
}
