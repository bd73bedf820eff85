package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/config"
)

// TestEveryAPIHasAnAuthorizationRule sends every registered API, empty, to
// a broker enforcing ACLs: none may fall to the superuser-only fallback
// (an API added without a rule) or panic.
func TestEveryAPIHasAnAuthorizationRule(t *testing.T) {
	b := startBroker(t, func(c *config.Config) { c.ACL.Authorizer = true })
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	vreq := kmsg.NewPtrApiVersionsRequest()
	vresp, err := vreq.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range vresp.ApiKeys {
		a := struct{ key, max int16 }{a.ApiKey, a.MaxVersion}
		if a.key == 17 || a.key == 36 {
			// SASL on a listener without it closes the connection; both
			// pass the checks (they are what sets the principal).
			continue
		}
		req := kmsg.RequestForKey(a.key)
		req.SetVersion(a.max)
		if a.key == 0 {
			req.(*kmsg.ProduceRequest).Acks = -1
		}
		if a.key == 1 {
			req.(*kmsg.FetchRequest).ReplicaID = -1
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := cl.Broker(0).Request(ctx, req)
		cancel()
		if err != nil {
			t.Errorf("%s v%d: %v", kmsg.NameForKey(a.key), a.max, err)
		}
	}
	if t.Failed() {
		b.logs.mu.Lock()
		for _, l := range b.logs.lines {
			t.Log(l)
		}
		b.logs.mu.Unlock()
	}
	if b.logs.contains("no authorisation rule") {
		b.logs.mu.Lock()
		defer b.logs.mu.Unlock()
		for _, l := range b.logs.lines {
			t.Log(l)
		}
		t.Fatal("an API has no authorisation rule")
	}
}
