package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-mq/ferry/internal/log"
)

// selfSignedTLS returns a server and a client config for a throw-away
// certificate.
func selfSignedTLS(t testing.TB) (server, client *tls.Config) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// sectionPair returns the writing end of a loopback connection (TLS or
// not) whose other end discards what it reads.
func sectionPair(b *testing.B, useTLS bool) net.Conn {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer lis.Close()
	srvCfg, cliCfg := selfSignedTLS(b)
	go func() {
		c, err := lis.Accept()
		if err != nil {
			return
		}
		if useTLS {
			c = tls.Server(c, srvCfg)
		}
		io.Copy(io.Discard, c)
		c.Close()
	}()
	c, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	if useTLS {
		tc := tls.Client(c, cliCfg)
		if err := tc.Handshake(); err != nil {
			b.Fatal(err)
		}
		return tc
	}
	return c
}

// BenchmarkSendSection is the fetch path's cost per byte of segment data:
// sendfile on a plain connection, through the write buffer and TLS
// encryption on a TLS one (BENCHMARKS.md, "TLS").
func BenchmarkSendSection(b *testing.B) {
	const size = 1 << 20
	path := filepath.Join(b.TempDir(), "segment")
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for _, mode := range []string{"plain", "tls", "tls-unbuffered"} {
		useTLS := mode != "plain"
		b.Run(mode, func(b *testing.B) {
			c := sectionPair(b, useTLS)
			defer c.Close()
			w := &replyWriter{conn: c}
			w.takeBuffers()
			defer w.returnBuffers()
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				s := log.Slice{File: f, Pos: 0, Size: size}
				if mode == "tls-unbuffered" {
					// The path before: io.Copy straight to the TLS conn.
					err = copySection(c, s)
				} else {
					err = w.sendSection(s)
				}
				if err != nil {
					b.Fatal(err)
				}
				if err := w.bw.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
