package auth

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// TLSFiles are the PEM files of a TLS listener.
type TLSFiles struct {
	Cert, Key string
	// ClientCA, when set, makes the listener require client certificates
	// signed by one of its CAs.
	ClientCA string
}

// NewTLSConfig returns a server config of TLS 1.2 and up for files. The
// files are read now, and again at a handshake when one of them changed
// (size or modification time), so a renewed certificate or CA is used by
// new connections without a restart. A change that does not load (a key
// not yet matching its certificate while both are being replaced) is
// logged and the previous config stays in use until the files load.
func NewTLSConfig(files TLSFiles, logger *slog.Logger) (*tls.Config, error) {
	r := &tlsReloader{files: files, log: logger}
	if err := r.reloadLocked(); err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetConfigForClient: r.configForClient}, nil
}

type fileStamp struct {
	mod  time.Time
	size int64
}

type tlsReloader struct {
	files TLSFiles
	log   *slog.Logger

	mu      sync.Mutex
	cfg     *tls.Config
	loaded  [3]fileStamp // of the files cfg was read from
	failed  [3]fileStamp // of the files that last failed to load, not to log twice
	reloads int
}

func (r *tlsReloader) paths() [3]string {
	return [3]string{r.files.Cert, r.files.Key, r.files.ClientCA}
}

func (r *tlsReloader) stamps() [3]fileStamp {
	var out [3]fileStamp
	for i, p := range r.paths() {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			out[i] = fileStamp{fi.ModTime(), fi.Size()}
		}
	}
	return out
}

// configForClient returns the config for a new handshake, reloading the
// files first when they changed. A handshake costs far more than the
// three stat calls.
func (r *tlsReloader) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.stamps(); now != r.loaded && now != r.failed {
		if err := r.reloadLocked(); err != nil {
			r.failed = now
			r.log.Error("TLS files changed but do not load; still using the previous ones", "err", err)
		} else {
			r.log.Info("TLS certificate reloaded", "cert", r.files.Cert, "not_after", r.cfg.Certificates[0].Leaf.NotAfter)
		}
	}
	return r.cfg, nil
}

// reloadLocked reads the files into a new config.
// REQUIRES: r.mu held (or r not yet shared).
func (r *tlsReloader) reloadLocked() error {
	stamps := r.stamps()
	cert, err := tls.LoadX509KeyPair(r.files.Cert, r.files.Key)
	if err != nil {
		return fmt.Errorf("load TLS certificate %s and key %s: %w", r.files.Cert, r.files.Key, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if r.files.ClientCA != "" {
		pem, err := os.ReadFile(r.files.ClientCA)
		if err != nil {
			return fmt.Errorf("read TLS client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("TLS client CA %s holds no PEM certificate", r.files.ClientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	r.cfg, r.loaded, r.reloads = cfg, stamps, r.reloads+1
	return nil
}

// CertificatePrincipal is the principal of a client certificate as Kafka
// names it: "User:" and the subject's distinguished name in RFC 2253 form,
// most specific attribute first ("User:CN=alice,OU=eng,O=Example").
// Attribute types Go does not name are written as dotted OIDs with a
// #-hex value, as RFC 2253 says.
func CertificatePrincipal(cert *x509.Certificate) string {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(cert.RawSubject, &rdns); err != nil || len(rest) > 0 {
		return "User:" + cert.Subject.String()
	}
	return "User:" + rdns.String()
}
