// Package metrics holds the server's Prometheus metrics: HTTP requests by FHIR interaction,
// resource type and status, their latency and how many are in flight; database operations
// (from the MongoDB driver's command monitor) and their errors; the audit queue; and
// validation refusals. They live on a registry of their own, served by Handler on a listener
// apart from the API.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.mongodb.org/mongo-driver/v2/event"
)

// namespace prefixes every metric of the server.
const namespace = "fhir"

// Metrics records what operators watch. The zero value is not usable: call New. A nil
// *Metrics records nothing, so callers need no checks.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	inFlight   prometheus.Gauge
	dbDuration *prometheus.HistogramVec
	dbErrors   *prometheus.CounterVec
	validation *prometheus.CounterVec
	deliveries *prometheus.CounterVec
}

// New makes the metrics on a fresh registry, with the Go runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests answered, by FHIR interaction (or the server endpoint), resource type and status code.",
		}, []string{"interaction", "resource_type", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time from the request to its answer, by FHIR interaction and resource type.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"interaction", "resource_type"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "http", Name: "requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		dbDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "db", Name: "operation_duration_seconds",
			Help:    "Time of each database command (find, insert, update, aggregate, getMore, …), successful or not.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"command"}),
		dbErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "db", Name: "operation_errors_total",
			Help: "Database commands that failed, by command.",
		}, []string{"command"}),
		validation: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "validation_refusals_total",
			Help: "Creates and updates refused because of the resource they would store, by resource type and status: 400 for an invalid R4 structure, 422 for a broken rule of its content (a response that does not fit its Questionnaire).",
		}, []string{"resource_type", "status"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "subscription", Name: "deliveries_total",
			Help: "Subscription notifications and handshakes, by outcome: delivered, failed (retried), dropped (its write did not happen, or the creator may not read it), handshake, handshake-failed, error (a subscription gave up).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.dbDuration, m.dbErrors, m.validation, m.deliveries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format (or OpenMetrics when asked).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true})
}

// Registry is where the metrics are registered, for collectors of other parts.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// RequestStarted counts a request in flight; call the function it returns when it ends.
func (m *Metrics) RequestStarted() (done func()) {
	if m == nil {
		return func() {}
	}
	m.inFlight.Inc()
	return m.inFlight.Dec
}

// ObserveRequest records one answered request. interaction is the FHIR interaction
// (read, search-type, …) or the name of a server endpoint; resourceType is "" where there
// is none. Callers keep both to a known, small set of values.
func (m *Metrics) ObserveRequest(interaction, resourceType string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(interaction, resourceType, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(interaction, resourceType).Observe(d.Seconds())
}

// ValidationRefused counts a create or update refused for the resource it would store,
// with the status it was answered (400 or 422).
func (m *Metrics) ValidationRefused(resourceType string, status int) {
	if m == nil {
		return
	}
	m.validation.WithLabelValues(resourceType, strconv.Itoa(status)).Inc()
}

// SubscriptionDelivery counts one subscription delivery attempt by its outcome.
func (m *Metrics) SubscriptionDelivery(outcome string) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(outcome).Inc()
}

// CommandMonitor returns a MongoDB driver command monitor that records the duration of every
// database command and counts the failed ones. Set it on the client options where the client
// is built.
func (m *Metrics) CommandMonitor() *event.CommandMonitor {
	return &event.CommandMonitor{
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			m.dbDuration.WithLabelValues(e.CommandName).Observe(e.Duration.Seconds())
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			m.dbDuration.WithLabelValues(e.CommandName).Observe(e.Duration.Seconds())
			m.dbErrors.WithLabelValues(e.CommandName).Inc()
		},
	}
}

// AuditQueue is what the metrics read of the audit writer.
type AuditQueue interface {
	// QueueDepth is how many records wait to be written.
	QueueDepth() int
	// Lag is how long the oldest record not yet written has waited.
	Lag() time.Duration
}

// WatchAudit publishes the depth and the lag of the audit queue, read at each scrape.
func (m *Metrics) WatchAudit(q AuditQueue) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "audit", Name: "queue_depth",
			Help: "Audit records waiting to be written.",
		}, func() float64 { return float64(q.QueueDepth()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "audit", Name: "lag_seconds",
			Help: "How long the oldest audit record not yet written has waited; 0 when all are written.",
		}, func() float64 { return q.Lag().Seconds() }),
	)
}
