package rocketmq_test

import (
	"net/http"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ferry-mq/ferry/internal/config"
)

// TestMetrics: requests are counted by code (unserved codes together) and
// open connections are a gauge on /metrics.
func TestMetrics(t *testing.T) {
	s := startNode(t, func(c *config.Config) { c.HTTPAddr = "127.0.0.1:0" })
	c := dialRaw(t, s)
	c.call(sendRequest(105, map[string]string{"topic": "nope"}, nil))
	c.call(sendRequest(9999, nil, nil))
	c.call(sendRequest(9998, nil, nil))

	resp, err := http.Get("http://" + s.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	byCode := map[string]float64{}
	for _, m := range fams["ferry_rocketmq_requests_total"].GetMetric() {
		byCode[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
	}
	if byCode["105"] != 1 || byCode["unsupported"] != 2 {
		t.Errorf("requests by code %v, want 105:1 unsupported:2", byCode)
	}
	if g := fams["ferry_rocketmq_connections"].GetMetric(); len(g) != 1 || g[0].GetGauge().GetValue() != 1 {
		t.Errorf("connections gauge %v, want 1", g)
	}
}
