package integration

import (
	"errors"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	xscram "github.com/xdg-go/scram"
)

// saramaSCRAM adapts xdg-go's SCRAM client to sarama's SCRAMClient.
type saramaSCRAM struct {
	hash xscram.HashGeneratorFcn
	conv *xscram.ClientConversation
}

func (s *saramaSCRAM) Begin(user, pw, authz string) error {
	cl, err := s.hash.NewClient(user, pw, authz)
	if err != nil {
		return err
	}
	s.conv = cl.NewConversation()
	return nil
}
func (s *saramaSCRAM) Step(challenge string) (string, error) { return s.conv.Step(challenge) }
func (s *saramaSCRAM) Done() bool                            { return s.conv.Done() }

// TestSaramaSASLOverTLS: sarama produces over TLS with SCRAM and PLAIN,
// with SaslHandshake v1 (tokens in SaslAuthenticate) and v0 (bare token
// frames), and a wrong password is refused.
func TestSaramaSASLOverTLS(t *testing.T) {
	pki := newTestPKI(t)
	srv := startSecureBroker(t, pki, nil)
	tc := pki.clientTLS(t, "", "")
	adm := kadm.NewClient(newClient(t, srv.TLSAddr(), kgo.DialTLSConfig(tc), kgo.SASL(scram512(adminUser, adminPassword))))
	cases := []struct {
		name      string
		mechanism sarama.SASLMechanism
		version   int16
	}{
		{"SCRAM-SHA-256 v1", sarama.SASLTypeSCRAMSHA256, sarama.SASLHandshakeV1},
		{"SCRAM-SHA-512 v0", sarama.SASLTypeSCRAMSHA512, sarama.SASLHandshakeV0},
		{"PLAIN v1", sarama.SASLTypePlaintext, sarama.SASLHandshakeV1},
		{"PLAIN v0", sarama.SASLTypePlaintext, sarama.SASLHandshakeV0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := func(pw string) *sarama.Config {
				cfg := saramaConfig(sarama.V2_1_0_0)
				cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, tc
				cfg.Net.SASL.Enable, cfg.Net.SASL.Mechanism, cfg.Net.SASL.Version = true, c.mechanism, c.version
				cfg.Net.SASL.User, cfg.Net.SASL.Password = adminUser, pw
				if c.version == sarama.SASLHandshakeV0 {
					cfg.ApiVersionsRequest = false
				}
				switch c.mechanism {
				case sarama.SASLTypeSCRAMSHA256:
					cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &saramaSCRAM{hash: xscram.SHA256} }
				case sarama.SASLTypeSCRAMSHA512:
					cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &saramaSCRAM{hash: xscram.SHA512} }
				}
				cfg.Metadata.Retry.Max = 1
				return cfg
			}
			topic := topicName(t)
			createTopic(t, adm, topic, 1)
			p := saramaProducer(t, srv.TLSAddr(), cfg(adminPassword))
			for i := range 20 {
				if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(strings.Repeat("s", i))}); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			if n := len(consumeN(t, srv.TLSAddr(), allFrom(1, kgo.NewOffset().AtStart()), topic, 20, kgo.DialTLSConfig(tc), kgo.SASL(scram256(adminUser, adminPassword)))); n != 20 {
				t.Fatalf("read %d of 20", n)
			}
			_, err := sarama.NewSyncProducer([]string{srv.TLSAddr()}, cfg("wrong"))
			if err == nil {
				t.Fatal("wrong password accepted")
			}
			if c.version == sarama.SASLHandshakeV1 && !errors.Is(err, sarama.ErrSASLAuthenticationFailed) && !strings.Contains(err.Error(), "SASL Authentication failed") {
				t.Fatalf("wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
			}
		})
	}
}
