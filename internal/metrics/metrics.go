// Package metrics is how the broker reports what it does, without knowing
// who listens. Code that counts on its hot path asks a Sink once for the
// instruments it needs (a Counter per API, a Histogram for fsyncs) and
// keeps them; adding to one is then a call through an interface, with no
// allocation and no lookup. Values that already exist elsewhere (log end
// offsets, sizes on disk, group lag) are not counted at all: a Source
// reads them when someone scrapes.
//
// Every metric is one of the Descs in names.go, so names, help and label
// names are static and listed in one place (README's table is checked
// against it). Only internal/metrics/prom imports the Prometheus client;
// Nop is the Sink when metrics are off.
package metrics

// Counter only goes up.
type Counter interface{ Add(delta float64) }

// Gauge goes up and down.
type Gauge interface {
	Add(delta float64)
	Set(value float64)
}

// Histogram counts observations into buckets (seconds for durations).
type Histogram interface{ Observe(value float64) }

// Kind is the type of a metric.
type Kind uint8

// The kinds of metrics.
const (
	KindCounter Kind = iota
	KindGauge
	KindHistogram
)

// String names the kind as the Prometheus text format does.
func (k Kind) String() string {
	switch k {
	case KindCounter:
		return "counter"
	case KindGauge:
		return "gauge"
	default:
		return "histogram"
	}
}

// Desc describes one metric.
type Desc struct {
	Name   string
	Help   string
	Kind   Kind
	Labels []string
	// Buckets are a histogram's upper bounds; nil means DurationBuckets.
	Buckets []float64
	// Like names the Kafka or Redpanda metric with the same meaning, for
	// operators who know those (README's table shows it).
	Like string
	// Scraped marks metrics read from the broker when scraped (through a
	// Source) rather than counted as things happen.
	Scraped bool
}

// Emit reports one value of a scraped metric; labelValues follow d.Labels.
type Emit func(d *Desc, value float64, labelValues ...string)

// Source reports values that are read, not counted: it is called on every
// scrape and must not block for long.
type Source interface{ Collect(emit Emit) }

// SourceFunc adapts a function to Source.
type SourceFunc func(emit Emit)

// Collect calls f.
func (f SourceFunc) Collect(emit Emit) { f(emit) }

// Sink hands out instruments. Asking for the same Desc and label values
// twice returns the same series. Label values must come from a bounded set
// (API names, error names), never from clients' free text.
type Sink interface {
	Counter(d *Desc, labelValues ...string) Counter
	Gauge(d *Desc, labelValues ...string) Gauge
	Histogram(d *Desc, labelValues ...string) Histogram
	// Register adds a Source read on every scrape.
	Register(s Source)
	// Enabled is false for Nop, so callers can skip work whose only use
	// is a metric (such as reading a clock).
	Enabled() bool
}

// Nop is the Sink when metrics are off: every instrument does nothing.
var Nop Sink = nopSink{}

type nopSink struct{}

type nopInstrument struct{}

func (nopInstrument) Add(float64)     {}
func (nopInstrument) Set(float64)     {}
func (nopInstrument) Observe(float64) {}

func (nopSink) Counter(*Desc, ...string) Counter     { return nopInstrument{} }
func (nopSink) Gauge(*Desc, ...string) Gauge         { return nopInstrument{} }
func (nopSink) Histogram(*Desc, ...string) Histogram { return nopInstrument{} }
func (nopSink) Register(Source)                      {}
func (nopSink) Enabled() bool                        { return false }

// OrNop returns s, or Nop when s is nil, so a zero Options means no
// metrics.
func OrNop(s Sink) Sink {
	if s == nil {
		return Nop
	}
	return s
}
