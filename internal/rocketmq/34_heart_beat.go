package rocketmq

import (
	"encoding/json"
	"time"
)

// HEART_BEAT (34): body HeartbeatData as JSON (client id, producer groups,
// consumer groups with their subscriptions). Clients send it every 30 s to
// every broker they know; the registry (clients.go) keeps it per
// connection until the next one or until the connection closes.

func init() { register(codeHeartBeat, handleHeartBeat) }

func handleHeartBeat(c *Conn, req *Command) *Command {
	var hb HeartbeatData
	if err := json.Unmarshal(req.Body, &hb); err != nil {
		return errorResponse(req, ResInvalidParameter, "heartbeat body is not HeartbeatData JSON: "+err.Error())
	}
	if hb.ClientID == "" {
		return errorResponse(req, ResInvalidParameter, "heartbeat without a clientID")
	}
	c.s.clients.Heartbeat(c, hb, time.Now())
	return Response(req)
}
