package export

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/procotel/procotel/semconv"
)

// The OTLP protocols New accepts in Options.Protocol.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// Compression values of Options.Compression and SignalOptions.Compression.
const (
	CompressionNone = "none"
	CompressionGzip = "gzip"
)

// DefaultQueueSize bounds the records (and, separately, the spans)
// waiting for export, and DefaultQueueBytes the bytes that hold them:
// what an outage costs in memory. Records wait encoded, in buffers of
// their size, about 1 KiB each under an exec storm (a record's argv,
// environment and paths can make it tens of KiB, which the byte bound
// caps). At a process storm's 50,000–60,000 events a second the queue
// is about a third of a second of slack for a slow export; beyond either
// bound records are dropped and counted (reason queue_full). With the
// endpoint down, each signal holds at most DefaultQueueBytes of queued
// records plus one open and four spare batch buffers of 512 KiB: about
// 18.5 MiB for logs and 18.5 MiB for spans, 37 MiB in all, before the
// Go collector's headroom (see cmd/procotel's memory limit). Measured
// under an exec storm with the endpoint refusing for 40 s and a 64 MiB
// memory limit: 83 MiB peak RSS (48 MiB of Go heap in use), against 52
// MiB exporting normally.
const (
	DefaultQueueSize  = 16384
	DefaultQueueBytes = 16 << 20
)

// Defaults for the zero values of Options. The retry defaults are the
// OTLP exporter specification's and the OTel Go SDK's: the first retry
// after about 5 s, growing (×1.5, ±50 % jitter) to 30 s, a batch given up
// after a minute.
const (
	DefaultTimeout        = 10 * time.Second
	DefaultRetryInitial   = 5 * time.Second
	DefaultRetryMax       = 30 * time.Second
	DefaultRetryFor       = time.Minute
	DefaultBatchSize      = 2048
	DefaultExportInterval = time.Second
	DefaultMetricInterval = time.Minute
)

// Options configure an Exporter. The zero value of every field means its
// default. The export package never reads the environment: the config
// package resolves OTEL_* variables into Options. The connection fields
// (Endpoint … Compression) apply to every signal; LogsSignal,
// TracesSignal and MetricsSignal override them per signal, as
// OTEL_EXPORTER_OTLP_{LOGS,TRACES,METRICS}_* override
// OTEL_EXPORTER_OTLP_*.
type Options struct {
	// Endpoint is where the OTLP receiver listens: "host:port", or a base
	// URL "http://host:port[/prefix]" / "https://…" (the scheme then
	// decides Insecure, and for http/protobuf "/v1/logs", "/v1/traces"
	// and "/v1/metrics" are appended to the prefix). Empty means
	// localhost:4317 for grpc and localhost:4318 for http/protobuf.
	Endpoint string
	// Protocol is ProtocolGRPC (default) or ProtocolHTTP.
	Protocol string
	// Headers are sent with every export request.
	Headers map[string]string
	// Insecure disables TLS (plain-text gRPC, http://).
	Insecure bool
	// TLS configures the client certificate and trusted CAs.
	TLS TLSOptions
	// Timeout bounds one export attempt.
	Timeout time.Duration
	// Compression is CompressionNone (default, also "") or
	// CompressionGzip: grpc-encoding gzip, or Content-Encoding: gzip.
	Compression string

	// LogsSignal, TracesSignal and MetricsSignal override the connection
	// fields above for one signal; their zero value overrides nothing.
	LogsSignal, TracesSignal, MetricsSignal SignalOptions

	// RetryInitial is the first wait before retrying a failed export,
	// RetryMax the longest wait; each is jittered by ±50 %. A server's
	// RetryInfo or Retry-After asks for a longer wait and is honoured.
	RetryInitial, RetryMax time.Duration
	// RetryFor is how long a batch is retried (retryable failures only)
	// before it is dropped and counted as export_failed. While a batch is
	// retried the queue fills and, once full, further records are
	// dropped and counted as queue_full. A permanent failure drops the
	// batch at once (permanent_error).
	RetryFor time.Duration

	// Messages receives the one-line reports of export trouble (the
	// first failure of each kind, what procotel does about it, recovery,
	// a server's partial-success messages); nil means os.Stderr.
	Messages io.Writer

	// Observer and ResourceAttributes make the resource: the observer's
	// host, os and service attributes, then the user's, which win.
	Observer           semconv.Observer
	ResourceAttributes []attribute.KeyValue
	// Boot salts every derived trace and span id.
	Boot semconv.BootID

	// Logs and Traces enable the two signals; at least one must be on.
	// OTEL_LOGS_EXPORTER=none and OTEL_TRACES_EXPORTER=none turn one off,
	// OTEL_SDK_DISABLED=true both (and the metrics).
	Logs, Traces bool
	// LogQueueSize and SpanQueueSize bound how many records and spans wait
	// for export (DefaultQueueSize), and QueueBytes the encoded bytes of
	// each signal's queue (DefaultQueueBytes); beyond either, new ones are
	// dropped and counted.
	LogQueueSize, SpanQueueSize int
	QueueBytes                  int
	// BatchSize is the largest number of records or spans in one export
	// (DefaultBatchSize); an export also stops at 512 KiB of encoded
	// records, far below a Collector's default 4 MiB request limit.
	// LogsSignal.BatchSize and TracesSignal.BatchSize override it.
	BatchSize int
	// ExportInterval is how long records wait for a batch to fill
	// (DefaultExportInterval); LogsSignal.ExportInterval and
	// TracesSignal.ExportInterval override it.
	ExportInterval time.Duration
	// MetricInterval is how often NewMetrics collects and exports
	// procotel's own metrics (OTEL_METRIC_EXPORT_INTERVAL).
	MetricInterval time.Duration
}

// SignalOptions override Options' connection fields for one signal
// (OTEL_EXPORTER_OTLP_LOGS_*, _TRACES_*, _METRICS_*). A zero field
// overrides nothing.
type SignalOptions struct {
	// Endpoint is this signal's endpoint. For http/protobuf it is the
	// full URL and used as given: no "/v1/…" is appended (a URL without
	// a path means "/"). For grpc it is as Options.Endpoint.
	Endpoint string
	// Protocol, Headers, TLS, Timeout and Compression are as in Options.
	// Headers replace the general ones; TLS files are taken field by
	// field.
	Protocol    string
	Headers     map[string]string
	TLS         TLSOptions
	Timeout     time.Duration
	Compression string
	// Insecure, when set, overrides Options.Insecure.
	Insecure *bool
	// BatchSize and ExportInterval, when positive, override Options'
	// for this signal's batches (OTEL_BLRP_MAX_EXPORT_BATCH_SIZE and
	// OTEL_BLRP_SCHEDULE_DELAY for logs, OTEL_BSP_* for traces). Metrics
	// are not batched: MetricsSignal's are not used.
	BatchSize      int
	ExportInterval time.Duration
}

// TLSOptions name PEM files for TLS.
type TLSOptions struct {
	// CAFile holds the certificates that verify the server; empty means
	// the system pool.
	CAFile string
	// CertFile and KeyFile hold the client certificate for mutual TLS;
	// both or neither.
	CertFile, KeyFile string
}

// target is a resolved endpoint.
type target struct {
	hostPort string
	insecure bool
	// path is, for http/protobuf, the base URL path without a trailing
	// slash (general endpoint), or the whole path (per-signal endpoint).
	path string
}

// The signals, as the metrics' signal attribute and reports name them.
const (
	signalLogs    = "logs"
	signalTraces  = "traces"
	signalMetrics = "metrics"
)

// signalConfig is one signal's resolved connection.
type signalConfig struct {
	signal      string
	protocol    string
	target      target
	tls         *tls.Config
	tlsFiles    TLSOptions
	headers     map[string]string
	timeout     time.Duration
	compression string
	// batchSize and interval shape the signal's batches (logs, traces).
	batchSize int
	interval  time.Duration
	// url is the http/protobuf URL to post to; urlPath its path.
	url, urlPath string
}

// display is the endpoint as reports show it.
func (c signalConfig) display() string {
	if c.protocol == ProtocolHTTP {
		return c.url
	}
	return c.target.hostPort
}

// withDefaults returns o with zero values replaced by defaults.
func (o Options) withDefaults() Options {
	if o.Protocol == "" {
		o.Protocol = ProtocolGRPC
	}
	orDefault(&o.Timeout, DefaultTimeout)
	orDefault(&o.RetryInitial, DefaultRetryInitial)
	orDefault(&o.RetryMax, DefaultRetryMax)
	o.RetryMax = max(o.RetryMax, o.RetryInitial)
	orDefault(&o.RetryFor, DefaultRetryFor)
	if o.Messages == nil {
		o.Messages = os.Stderr
	}
	orDefault(&o.LogQueueSize, DefaultQueueSize)
	orDefault(&o.SpanQueueSize, DefaultQueueSize)
	orDefault(&o.QueueBytes, DefaultQueueBytes)
	orDefault(&o.BatchSize, DefaultBatchSize)
	orDefault(&o.ExportInterval, DefaultExportInterval)
	orDefault(&o.MetricInterval, DefaultMetricInterval)
	return o
}

// orDefault sets *v to def unless it is positive: the zero value (or a
// negative one) of a size or a duration means its default.
func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// signalOptions returns the overrides of signal.
func (o Options) signalOptions(signal string) SignalOptions {
	switch signal {
	case signalLogs:
		return o.LogsSignal
	case signalTraces:
		return o.TracesSignal
	}
	return o.MetricsSignal
}

// resolve merges signal's overrides into the general settings and
// validates them; o must have its defaults applied.
func (o Options) resolve(signal string) (signalConfig, error) {
	so := o.signalOptions(signal)
	c := signalConfig{signal: signal, protocol: o.Protocol, headers: o.Headers, timeout: o.Timeout,
		compression: o.Compression, tlsFiles: o.TLS, batchSize: o.BatchSize, interval: o.ExportInterval}
	insecure := o.Insecure
	if so.Protocol != "" {
		c.protocol = so.Protocol
	}
	if so.Headers != nil {
		c.headers = so.Headers
	}
	if so.Timeout > 0 {
		c.timeout = so.Timeout
	}
	if so.BatchSize > 0 {
		c.batchSize = so.BatchSize
	}
	if so.ExportInterval > 0 {
		c.interval = so.ExportInterval
	}
	if so.Compression != "" {
		c.compression = so.Compression
	}
	if so.Insecure != nil {
		insecure = *so.Insecure
	}
	if so.TLS.CAFile != "" {
		c.tlsFiles.CAFile = so.TLS.CAFile
	}
	if so.TLS.CertFile != "" || so.TLS.KeyFile != "" {
		c.tlsFiles.CertFile, c.tlsFiles.KeyFile = so.TLS.CertFile, so.TLS.KeyFile
	}
	switch c.compression {
	case "", CompressionNone:
		c.compression = CompressionNone
	case CompressionGzip:
	default:
		return c, fmt.Errorf("%s: unknown OTLP compression %q (want %q or %q)", signal, c.compression, CompressionGzip, CompressionNone)
	}
	ep, perSignal := o.Endpoint, false
	if so.Endpoint != "" {
		ep, perSignal = so.Endpoint, true
	}
	t, err := resolveTarget(c.protocol, ep, insecure, perSignal)
	if err != nil {
		if perSignal {
			return c, fmt.Errorf("%s endpoint: %w", signal, err)
		}
		return c, err
	}
	c.target = t
	if c.tls, err = c.tlsFiles.tlsConfig(); err != nil {
		return c, err
	}
	if t.insecure && c.tls != nil {
		return c, errors.New("TLS files given for an insecure endpoint")
	}
	if c.protocol == ProtocolHTTP {
		c.url = "https://"
		if t.insecure {
			c.url = "http://"
		}
		c.urlPath = t.path + "/v1/" + signal
		if perSignal {
			c.urlPath = t.path
			if t.path == "" {
				c.urlPath = "/"
			}
		}
		c.url += t.hostPort + c.urlPath
	}
	return c, nil
}

// resolveTarget validates the protocol and endpoint. A per-signal
// http/protobuf endpoint keeps its path as given.
func resolveTarget(protocol, ep string, insecure, perSignal bool) (target, error) {
	var def string
	switch protocol {
	case ProtocolGRPC:
		def = "localhost:4317"
	case ProtocolHTTP:
		def = "localhost:4318"
	default:
		return target{}, fmt.Errorf("unknown OTLP protocol %q (want %q or %q)", protocol, ProtocolGRPC, ProtocolHTTP)
	}
	if ep == "" {
		ep = def
	}
	given := ep
	t := target{insecure: insecure}
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil {
			return target{}, fmt.Errorf("parse endpoint %q: %w", ep, err)
		}
		switch u.Scheme {
		case "http":
			t.insecure = true
		case "https":
			if insecure {
				return target{}, fmt.Errorf("endpoint %q is https but insecure is set", ep)
			}
		default:
			return target{}, fmt.Errorf("endpoint %q: unsupported scheme %q (want http or https)", ep, u.Scheme)
		}
		if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return target{}, fmt.Errorf("endpoint %q: user info, query and fragment are not allowed", ep)
		}
		if protocol == ProtocolGRPC && strings.Trim(u.Path, "/") != "" {
			return target{}, fmt.Errorf("endpoint %q: a grpc endpoint has no path", ep)
		}
		if perSignal {
			t.path = u.EscapedPath()
		} else {
			t.path = strings.TrimRight(u.EscapedPath(), "/")
		}
		ep = u.Host
		if u.Port() == "" {
			return target{}, fmt.Errorf("endpoint %q: missing port", given)
		}
	}
	host, port, err := net.SplitHostPort(ep)
	if err != nil {
		return target{}, fmt.Errorf("endpoint %q: want host:port or a URL: %w", ep, err)
	}
	if host == "" || port == "" {
		return target{}, fmt.Errorf("endpoint %q: want host:port", ep)
	}
	t.hostPort = ep
	return t, nil
}

// tlsConfig loads the TLS files; nil when none are named.
func (o TLSOptions) tlsConfig() (*tls.Config, error) {
	if o.CAFile == "" && o.CertFile == "" && o.KeyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read CA file %s: no PEM certificates", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("client TLS needs both a certificate and a key file")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
