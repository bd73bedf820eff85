package rocketmq

import (
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// HeartbeatData is the body of HEART_BEAT: who the client is and which
// producer and consumer groups it runs.
type HeartbeatData struct {
	ClientID  string         `json:"clientID"`
	Producers []ProducerData `json:"producerDataSet"`
	Consumers []ConsumerData `json:"consumerDataSet"`
}

// ProducerData names one producer group of a client.
type ProducerData struct {
	Group string `json:"groupName"`
}

// ConsumerData is one consumer group of a client and its subscriptions.
type ConsumerData struct {
	Group         string             `json:"groupName"`
	ConsumeType   string             `json:"consumeType"`  // CONSUME_ACTIVELY (pull) or CONSUME_PASSIVELY (push)
	MessageModel  string             `json:"messageModel"` // CLUSTERING or BROADCASTING
	ConsumeFrom   string             `json:"consumeFromWhere"`
	Subscriptions []SubscriptionData `json:"subscriptionDataSet"`
	UnitMode      bool               `json:"unitMode"`
}

// SubscriptionData is one topic subscription of a consumer group.
type SubscriptionData struct {
	Topic          string          `json:"topic"`
	SubString      string          `json:"subString"` // the tag or SQL92 expression
	Tags           []string        `json:"tagsSet"`
	Codes          json.RawMessage `json:"codeSet,omitempty"`
	SubVersion     int64           `json:"subVersion"`
	ExpressionType string          `json:"expressionType"` // TAG (default) or SQL92
	ClassFilter    bool            `json:"classFilterMode"`
}

// Client is what the registry knows of one client on one connection.
type Client struct {
	ID        string
	Conn      *Conn
	Producers []string
	Consumers []ConsumerData
	// LastSeen is the time of its last heartbeat.
	LastSeen time.Time
}

// Clients is the registry of live clients, fed by HEART_BEAT and
// UNREGISTER_CLIENT and emptied of a connection's clients when it
// closes. A client id may have more than one connection (one per broker
// address it uses, and on a single node NameServer and broker share one);
// each is its own entry.
//
// Consumers of a group are told (NOTIFY_CONSUMER_IDS_CHANGED) when its
// membership changes, so they rebalance at once rather than at their next
// 20-second rebalance.
type Clients struct {
	s  *Server
	mu sync.Mutex
	// byConn holds every registered client by connection, then id.
	byConn map[*Conn]map[string]*Client
}

func newClients(s *Server) *Clients {
	return &Clients{s: s, byConn: map[*Conn]map[string]*Client{}}
}

// Heartbeat records hb from connection c.
func (r *Clients) Heartbeat(c *Conn, hb HeartbeatData, now time.Time) {
	cl := &Client{ID: hb.ClientID, Conn: c, LastSeen: now, Consumers: hb.Consumers}
	for _, p := range hb.Producers {
		cl.Producers = append(cl.Producers, p.Group)
	}
	r.mu.Lock()
	byID := r.byConn[c]
	if byID == nil {
		byID = map[string]*Client{}
		r.byConn[c] = byID
	}
	old := byID[hb.ClientID]
	byID[hb.ClientID] = cl
	changed := changedGroups(old, cl)
	r.mu.Unlock()
	r.notify(changed)
}

// Unregister removes the client's producer group, consumer group, or
// (with both empty) the whole client from connection c.
func (r *Clients) Unregister(c *Conn, clientID, producerGroup, consumerGroup string) {
	r.mu.Lock()
	cl := r.byConn[c][clientID]
	if cl == nil {
		r.mu.Unlock()
		return
	}
	var changed []string
	if producerGroup == "" && consumerGroup == "" {
		delete(r.byConn[c], clientID)
		changed = changedGroups(cl, nil)
	} else {
		next := *cl
		next.Producers = slices.DeleteFunc(slices.Clone(cl.Producers), func(g string) bool { return g == producerGroup })
		next.Consumers = slices.DeleteFunc(slices.Clone(cl.Consumers), func(d ConsumerData) bool { return d.Group == consumerGroup })
		r.byConn[c][clientID] = &next
		changed = changedGroups(cl, &next)
	}
	r.mu.Unlock()
	r.notify(changed)
}

// dropConn forgets every client of a closed connection.
func (r *Clients) dropConn(c *Conn) {
	r.mu.Lock()
	var changed []string
	for _, cl := range r.byConn[c] {
		changed = append(changed, changedGroups(cl, nil)...)
	}
	delete(r.byConn, c)
	r.mu.Unlock()
	r.notify(changed)
}

// ProducerConns returns the live connections of producer group's clients
// (for CHECK_TRANSACTION_STATE), most recently seen first.
func (r *Clients) ProducerConns(group string) []*Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	var found []*Client
	for _, byID := range r.byConn {
		for _, cl := range byID {
			if slices.Contains(cl.Producers, group) {
				found = append(found, cl)
			}
		}
	}
	slices.SortFunc(found, func(a, b *Client) int { return b.LastSeen.Compare(a.LastSeen) })
	conns := make([]*Conn, len(found))
	for i, cl := range found {
		conns[i] = cl.Conn
	}
	return conns
}

// Consumer is one client of a consumer group.
type Consumer struct {
	ClientID string
	Conn     *Conn
	Data     ConsumerData
}

// Consumers returns the clients of consumer group, sorted by client id,
// one entry per client id (the most recently seen connection).
func (r *Clients) Consumers(group string) []Consumer {
	r.mu.Lock()
	defer r.mu.Unlock()
	latest := map[string]*Client{}
	data := map[string]ConsumerData{}
	for _, byID := range r.byConn {
		for id, cl := range byID {
			for _, cd := range cl.Consumers {
				if cd.Group != group {
					continue
				}
				if prev, ok := latest[id]; !ok || cl.LastSeen.After(prev.LastSeen) {
					latest[id], data[id] = cl, cd
				}
			}
		}
	}
	out := make([]Consumer, 0, len(latest))
	for id, cl := range latest {
		out = append(out, Consumer{ClientID: id, Conn: cl.Conn, Data: data[id]})
	}
	slices.SortFunc(out, func(a, b Consumer) int {
		switch {
		case a.ClientID < b.ClientID:
			return -1
		case a.ClientID > b.ClientID:
			return 1
		}
		return 0
	})
	return out
}

// changedGroups lists the consumer groups whose membership differs
// between a client's old and new registration (nil for none).
func changedGroups(old, cur *Client) []string {
	groups := func(cl *Client) []string {
		if cl == nil {
			return nil
		}
		var gs []string
		for _, cd := range cl.Consumers {
			gs = append(gs, cd.Group)
		}
		return gs
	}
	before, after := groups(old), groups(cur)
	var changed []string
	for _, g := range before {
		if !slices.Contains(after, g) {
			changed = append(changed, g)
		}
	}
	for _, g := range after {
		if !slices.Contains(before, g) {
			changed = append(changed, g)
		}
	}
	return changed
}

// notify tells the consumers of each group that its membership changed.
func (r *Clients) notify(groups []string) {
	for _, g := range groups {
		for _, c := range r.Consumers(g) {
			req := &Command{Code: codeNotifyConsumerIdsChange, Language: languageGo, Version: brokerVersion, Serialize: SerializeJSON}
			req.SetField("consumerGroup", g)
			c.Conn.Oneway(req)
		}
	}
}

// clientExpiry is how long a client stays registered without a heartbeat
// (clients send one every 30 s), as RocketMQ brokers' channel expiry.
const clientExpiry = 120 * time.Second

// expire forgets clients not heard from since before now - clientExpiry.
func (r *Clients) expire(now time.Time) {
	r.mu.Lock()
	var changed []string
	for c, byID := range r.byConn {
		for id, cl := range byID {
			if now.Sub(cl.LastSeen) > clientExpiry {
				delete(byID, id)
				changed = append(changed, changedGroups(cl, nil)...)
				c.log.Info("client expired: no heartbeat", "client", id, "last_seen", cl.LastSeen)
			}
		}
		if len(byID) == 0 {
			delete(r.byConn, c)
		}
	}
	r.mu.Unlock()
	r.notify(changed)
}

// expireLoop runs expire every 10 s until the server closes.
func (r *Clients) expireLoop() {
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case now := <-tick.C:
			r.expire(now)
		case <-r.s.ctx.Done():
			return
		}
	}
}
