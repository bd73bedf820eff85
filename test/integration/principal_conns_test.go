package integration

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// apiVersionsV0 is an ApiVersions v0 request frame with the given client id.
func apiVersionsV0(clientID string) []byte {
	body := binary.BigEndian.AppendUint16(nil, 18) // key
	body = binary.BigEndian.AppendUint16(body, 0)  // version
	body = binary.BigEndian.AppendUint32(body, 7)  // correlation id
	body = binary.BigEndian.AppendUint16(body, uint16(len(clientID)))
	body = append(body, clientID...)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// answers reports whether the broker answers an ApiVersions on c.
func answers(t *testing.T, c net.Conn, clientID string) bool {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(apiVersionsV0(clientID)); err != nil {
		return false
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return false
	}
	_, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(size[:])))
	return err == nil
}

func TestMaxConnectionsPerPrincipal(t *testing.T) {
	p := startFerry(t, t.TempDir(), "--authorizer=true", "--insecure-principal-from-client-id", "--max-connections-per-principal", "1")
	dial := func() net.Conn {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	first := dial()
	if !answers(t, first, "principal=User:x") {
		t.Fatal("first connection of User:x not answered")
	}
	if answers(t, dial(), "principal=User:x") {
		t.Fatal("second connection of User:x answered with --max-connections-per-principal 1")
	}
	if !answers(t, dial(), "principal=User:y") {
		t.Fatal("User:y refused: the cap is per principal")
	}
	first.Close()
	// The count drops when the connection's goroutines end; retry briefly.
	deadline := time.Now().Add(10 * time.Second)
	for !answers(t, dial(), "principal=User:x") {
		if time.Now().After(deadline) {
			t.Fatal("User:x still refused after closing its connection")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
