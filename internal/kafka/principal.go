package kafka

import "net"

// anonymous is the principal of a client that has not authenticated: on a
// listener without SASL or mutual TLS, or before SASL completes.
const anonymous = "User:ANONYMOUS"

// Principal is who the client is, as Kafka's ACLs name it: "User:NAME"
// after SASL, "User:" and the certificate subject (RFC 2253) on a mutual
// TLS listener without SASL, else "User:ANONYMOUS". It is set on the read
// goroutine before the first request that needs it and never changes
// afterwards (re-authentication must keep it).
func (c *conn) Principal() string { return c.principal }

// ClientHost is the client's IP address, as ACLs match hosts.
func (c *conn) ClientHost() string {
	addr := c.nc.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
