package kafka

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handlerFunc runs the first phase of a request on the connection's read
// goroutine, in request order (appends happen here, so pipelined produces
// land in order). It returns the second phase, run on the write goroutine
// in order, which may block (fsync, long poll) and yields the reply.
type handlerFunc func(c *conn, req kmsg.Request) finisher

// finisher completes a request; a nil reply means no response is sent
// (acks=0 produce).
type finisher func() reply

type api struct {
	key      int16
	min, max int16
	handle   handlerFunc
}

var apis = map[int16]api{}

// register adds an API; each API file calls it from init.
func register(key, min, max int16, h handlerFunc) {
	if req := kmsg.RequestForKey(key); req == nil || max > req.MaxVersion() {
		panic("kafka: registering an API or version kmsg cannot decode")
	}
	apis[key] = api{key: key, min: min, max: max, handle: h}
}

// supportedAPIs lists registered APIs sorted by key, for ApiVersions.
func supportedAPIs() []api {
	out := make([]api, 0, len(apis))
	for _, a := range apis {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// now returns a finisher that replies with resp immediately.
func now(resp kmsg.Response) finisher {
	return func() reply { return msgReply{resp} }
}
