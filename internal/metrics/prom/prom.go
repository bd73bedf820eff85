// Package prom is the Prometheus implementation of metrics.Sink, and the
// only package of Ferry that imports the Prometheus client.
package prom

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferry-mq/ferry/internal/metrics"
)

// Registry is a metrics.Sink whose metrics are served by Handler.
type Registry struct {
	reg *prometheus.Registry

	mu     sync.Mutex
	vecs   map[*metrics.Desc]prometheus.Collector // counted metrics, one vector per Desc
	descs  map[*metrics.Desc]*prometheus.Desc     // scraped metrics
	source sources
}

// New returns a registry that also reports the Go runtime's and the
// process's standard metrics (go_*, process_*).
func New() *Registry {
	r := &Registry{
		reg:   prometheus.NewRegistry(),
		vecs:  map[*metrics.Desc]prometheus.Collector{},
		descs: map[*metrics.Desc]*prometheus.Desc{},
	}
	r.source.r = r
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &r.source)
	return r
}

// Handler serves the registry in the Prometheus text format. Errors of a
// scrape are logged by the caller's HTTP server; a partial answer is better
// than none.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Enabled is true: instruments record.
func (r *Registry) Enabled() bool { return true }

// Counter returns the series of d with labelValues.
func (r *Registry) Counter(d *metrics.Desc, labelValues ...string) metrics.Counter {
	return r.vec(d, metrics.KindCounter).(*prometheus.CounterVec).WithLabelValues(labelValues...)
}

// Gauge returns the series of d with labelValues.
func (r *Registry) Gauge(d *metrics.Desc, labelValues ...string) metrics.Gauge {
	return r.vec(d, metrics.KindGauge).(*prometheus.GaugeVec).WithLabelValues(labelValues...)
}

// Histogram returns the series of d with labelValues.
func (r *Registry) Histogram(d *metrics.Desc, labelValues ...string) metrics.Histogram {
	return r.vec(d, metrics.KindHistogram).(*prometheus.HistogramVec).WithLabelValues(labelValues...)
}

// vec returns d's vector, registering it on first use. A Desc asked for
// as another kind than it says, or also scraped, is a programming error.
func (r *Registry) vec(d *metrics.Desc, kind metrics.Kind) prometheus.Collector {
	if d.Kind != kind || d.Scraped {
		panic(fmt.Sprintf("metrics: %s is a scraped=%v %v, asked for as a %v", d.Name, d.Scraped, d.Kind, kind))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.vecs[d]; ok {
		return v
	}
	var v prometheus.Collector
	switch kind {
	case metrics.KindCounter:
		v = prometheus.NewCounterVec(prometheus.CounterOpts{Name: d.Name, Help: d.Help}, d.Labels)
	case metrics.KindGauge:
		v = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: d.Name, Help: d.Help}, d.Labels)
	default:
		buckets := d.Buckets
		if buckets == nil {
			buckets = metrics.DurationBuckets
		}
		v = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: d.Name, Help: d.Help, Buckets: buckets}, d.Labels)
	}
	r.reg.MustRegister(v)
	r.vecs[d] = v
	return v
}

// Register adds a source read on every scrape.
func (r *Registry) Register(s metrics.Source) {
	r.mu.Lock()
	r.source.list = append(r.source.list, s)
	r.mu.Unlock()
}

func (r *Registry) promDesc(d *metrics.Desc) *prometheus.Desc {
	r.mu.Lock()
	defer r.mu.Unlock()
	pd, ok := r.descs[d]
	if !ok {
		pd = prometheus.NewDesc(d.Name, d.Help, d.Labels, nil)
		r.descs[d] = pd
	}
	return pd
}

// sources is the one collector of every scraped metric. It describes
// nothing up front (an unchecked collector) because sources come and go
// with the broker's lifetime; the names are fixed by metrics.All anyway.
type sources struct {
	r    *Registry
	list []metrics.Source // guarded by r.mu
}

func (s *sources) Describe(chan<- *prometheus.Desc) {}

func (s *sources) Collect(ch chan<- prometheus.Metric) {
	s.r.mu.Lock()
	list := append([]metrics.Source(nil), s.list...)
	s.r.mu.Unlock()
	emit := func(d *metrics.Desc, value float64, labelValues ...string) {
		if !d.Scraped || d.Kind == metrics.KindHistogram {
			panic(fmt.Sprintf("metrics: %s is not a scraped counter or gauge", d.Name))
		}
		vt := prometheus.GaugeValue
		if d.Kind == metrics.KindCounter {
			vt = prometheus.CounterValue
		}
		m, err := prometheus.NewConstMetric(s.r.promDesc(d), vt, value, labelValues...)
		if err != nil {
			m = prometheus.NewInvalidMetric(s.r.promDesc(d), err)
		}
		ch <- m
	}
	for _, src := range list {
		src.Collect(emit)
	}
}
