package rocketmq

// UNREGISTER_CLIENT (35): header clientID and optionally producerGroup or
// consumerGroup; a client shutting down removes itself (or one group) from
// the registry without waiting for its connection to close.

func init() { register(codeUnregisterClient, handleUnregisterClient) }

func handleUnregisterClient(c *Conn, req *Command) *Command {
	id := req.Field("clientID")
	if id == "" {
		return errorResponse(req, ResInvalidParameter, "missing clientID")
	}
	c.s.clients.Unregister(c, id, req.Field("producerGroup"), req.Field("consumerGroup"))
	return Response(req)
}
