package broker

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/meta"
)

// maxPeerResponse bounds one response a follower reads from a leader.
const maxPeerResponse = 256 << 20

// peerConn is one follower's connection to a leader's Kafka listener: one
// request at a time, encoded and decoded with kmsg. A full Kafka client
// would add what replication does not need (metadata, routing, retries
// across brokers), and this keeps every byte of it behind config.Dial.
type peerConn struct {
	conn net.Conn
	fmt  *kmsg.RequestFormatter
	corr int32
	buf  []byte
}

func dialPeer(ctx context.Context, dial config.DialFunc, addr string, self int32, tc *tls.Config) (*peerConn, error) {
	c, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc != nil {
		tlsConn := tls.Client(c, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		c = tlsConn
	}
	return &peerConn{conn: c, fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID(peerClientID(self)))}, nil
}

func (pc *peerConn) Close() error { return pc.conn.Close() }

// dialNode connects to another broker's Kafka listener as this node (TLS
// and SASL as the inter-broker user when configured), within timeout: the
// replica fetchers' and the transaction coordinator's way to their peers.
func (b *Broker) dialNode(node int32, timeout time.Duration) (*peerConn, error) {
	info, ok := b.Image().Broker(node)
	if !ok {
		return nil, fmt.Errorf("broker %d is not registered", node)
	}
	return b.dialBrokerWithin(info, timeout)
}

// dialBrokerWithin opens a peer connection to bi's Kafka listener, with
// TLS and SASL as the inter-broker user when the cluster uses them.
func (b *Broker) dialBrokerWithin(bi meta.BrokerInfo, timeout time.Duration) (*peerConn, error) {
	if bi.Addr == "" {
		return nil, fmt.Errorf("broker %d has no registered address", bi.NodeID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tc, err := b.interBrokerTLS(bi.Addr)
	if err != nil {
		return nil, err
	}
	pc, err := dialPeer(ctx, b.cfg.Dialer(), bi.Addr, b.cfg.NodeID, tc)
	if err != nil || len(b.cfg.Security.SASLMechanisms) == 0 {
		return pc, err
	}
	user, password, _ := b.cfg.Security.InterBrokerUserParts()
	if err := pc.authenticate(ctx, b.cfg.InterBrokerMechanism(), user, password); err != nil {
		pc.Close()
		return nil, fmt.Errorf("broker %d at %s: %w", bi.NodeID, bi.Addr, err)
	}
	return pc, nil
}

// roundTrip sends req and decodes its response, within timeout.
func (pc *peerConn) roundTrip(req kmsg.Request, timeout time.Duration) (kmsg.Response, error) {
	pc.corr++
	pc.buf = pc.fmt.AppendRequest(pc.buf[:0], req, pc.corr)
	pc.conn.SetDeadline(time.Now().Add(timeout))
	if _, err := pc.conn.Write(pc.buf); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(pc.conn, size[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > maxPeerResponse {
		return nil, fmt.Errorf("response of %d bytes from %s", n, pc.conn.RemoteAddr())
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(pc.conn, body); err != nil {
		return nil, err
	}
	if corr := int32(binary.BigEndian.Uint32(body)); corr != pc.corr {
		return nil, fmt.Errorf("response correlation id %d, want %d", corr, pc.corr)
	}
	body = body[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() {
		// The response header's tagged fields: none are defined.
		r := kbin.Reader{Src: body}
		for range r.Uvarint() {
			r.Uvarint()
			r.Span(int(r.Uvarint()))
		}
		if !r.Ok() {
			return nil, fmt.Errorf("response header from %s is truncated", pc.conn.RemoteAddr())
		}
		body = r.Src
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode %T: %w", resp, err)
	}
	return resp, nil
}

// authenticate logs the connection in with SASL (SaslHandshake, then
// SaslAuthenticate rounds) as the inter-broker user, with a SCRAM
// mechanism (franz-go's client side of it).
func (pc *peerConn) authenticate(ctx context.Context, mechanism, user, password string) error {
	auth := scram.Auth{User: user, Pass: password}
	var mech sasl.Mechanism
	switch mechanism {
	case "SCRAM-SHA-512":
		mech = auth.AsSha512Mechanism()
	case "SCRAM-SHA-256":
		mech = auth.AsSha256Mechanism()
	default:
		return fmt.Errorf("inter-broker SASL mechanism %q is not supported", mechanism)
	}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version = 1
	hs.Mechanism = mechanism
	kresp, err := pc.roundTrip(hs, replicaTimeout)
	if err != nil {
		return fmt.Errorf("SASL handshake: %w", err)
	}
	if code := kresp.(*kmsg.SASLHandshakeResponse).ErrorCode; code != 0 {
		return fmt.Errorf("SASL handshake: %w", kerr.ErrorForCode(code))
	}
	session, msg, err := mech.Authenticate(ctx, pc.conn.RemoteAddr().String())
	if err != nil {
		return err
	}
	for {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version = 1
		req.SASLAuthBytes = msg
		kresp, err := pc.roundTrip(req, replicaTimeout)
		if err != nil {
			return fmt.Errorf("SASL authenticate: %w", err)
		}
		resp := kresp.(*kmsg.SASLAuthenticateResponse)
		if resp.ErrorCode != 0 {
			detail := ""
			if resp.ErrorMessage != nil {
				detail = ": " + *resp.ErrorMessage
			}
			return fmt.Errorf("SASL authenticate as %s: %w%s", user, kerr.ErrorForCode(resp.ErrorCode), detail)
		}
		done, next, err := session.Challenge(resp.SASLAuthBytes)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		msg = next
	}
}
