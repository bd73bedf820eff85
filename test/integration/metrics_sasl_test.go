package integration

import (
	"strings"
	"testing"

	"github.com/IBM/sarama"
	xscram "github.com/xdg-go/scram"

	"github.com/ferry-mq/ferry/internal/config"
)

// TestMetricsBareSASLTokensAreNoRequests: after SaslHandshake v0 the SASL
// exchange is bare token frames, with no request header; they are not
// counted as requests (as Produce, API key 0, with a latency since the
// zero time — which also made each one a "slow request").
func TestMetricsBareSASLTokensAreNoRequests(t *testing.T) {
	pki := newTestPKI(t)
	srv := startSecureBroker(t, pki, func(cfg *config.Config) { cfg.HTTPAddr = "127.0.0.1:0" })
	tc := pki.clientTLS(t, "", "")
	cfg := saramaConfig(sarama.V2_1_0_0)
	cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, tc
	cfg.Net.SASL.Enable, cfg.Net.SASL.Mechanism, cfg.Net.SASL.Version = true, sarama.SASLTypeSCRAMSHA512, sarama.SASLHandshakeV0
	cfg.Net.SASL.User, cfg.Net.SASL.Password = adminUser, adminPassword
	cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &saramaSCRAM{hash: xscram.SHA512} }
	cfg.ApiVersionsRequest = false
	cfg.Metadata.Retry.Max = 1
	cl, err := sarama.NewClient([]string{srv.TLSAddr()}, cfg)
	if err != nil {
		t.Fatalf("sarama with SCRAM over SaslHandshake v0: %v", err)
	}
	defer cl.Close()
	if _, err := cl.Topics(); err != nil {
		t.Fatal(err)
	}

	fams := scrape(t, srv.HTTPAddr())
	if got, _ := metricValue(fams, "ferry_kafka_requests_total", map[string]string{"api": "Produce"}); got != 0 {
		t.Errorf("%v Produce requests counted, none sent (bare SASL tokens counted as requests)", got)
	}
	if got, _ := metricValue(fams, "ferry_kafka_slow_requests_total", nil); got != 0 {
		t.Errorf("%v slow requests counted", got)
	}
	if got := mustMetric(t, fams, "ferry_kafka_requests_total", map[string]string{"api": "SASLHandshake"}); got < 1 {
		t.Errorf("SASLHandshake requests %v, want at least 1", got)
	}
	if t.Failed() {
		var b strings.Builder
		for name := range fams {
			b.WriteString(name + " ")
		}
		t.Logf("families: %s", b.String())
	}
}
