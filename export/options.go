package export

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
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

// Defaults for the zero values of Options. The queue holds about a second
// of a process storm (50,000–60,000 events a second); records wait in it
// encoded, about 0.5–1 KiB each.
const (
	DefaultTimeout        = 10 * time.Second
	DefaultRetryFor       = time.Minute
	DefaultQueueSize      = 65536
	DefaultBatchSize      = 2048
	DefaultExportInterval = time.Second
	DefaultMetricInterval = time.Minute
)

// Options configure an Exporter. The zero value of every field means its
// default. The export package never reads the environment: the config
// package resolves OTEL_* variables into Options.
type Options struct {
	// Endpoint is where the OTLP receiver listens: "host:port", or a base
	// URL "http://host:port[/prefix]" / "https://…" (the scheme then
	// decides Insecure, and for http/protobuf "/v1/logs" and "/v1/traces"
	// are appended to the prefix). Empty means localhost:4317 for grpc and
	// localhost:4318 for http/protobuf.
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
	// RetryFor is how long a failed batch is retried (with backoff) before
	// it is dropped and counted. While a batch is retried the queue fills
	// and, once full, further records are dropped and counted.
	RetryFor time.Duration

	// Observer and ResourceAttributes make the resource: the observer's
	// host, os and service attributes, then the user's, which win.
	Observer           semconv.Observer
	ResourceAttributes []attribute.KeyValue
	// Boot salts every derived trace and span id.
	Boot semconv.BootID

	// Logs and Traces enable the two signals; at least one must be on.
	Logs, Traces bool
	// LogQueueSize and SpanQueueSize bound how many records and spans wait
	// for export; beyond that new ones are dropped and counted.
	LogQueueSize, SpanQueueSize int
	// BatchSize is the largest number of records or spans in one export;
	// an export also stops at 3 MiB of encoded records, below a
	// Collector's default 4 MiB request limit.
	BatchSize int
	// ExportInterval is how long records wait for a batch to fill.
	ExportInterval time.Duration
	// MetricInterval is how often NewMetrics collects and exports
	// procotel's own metrics.
	MetricInterval time.Duration
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
	// pathPrefix is the base URL path for http/protobuf, without a
	// trailing slash.
	pathPrefix string
}

// withDefaults returns o with zero values replaced by defaults.
func (o Options) withDefaults() Options {
	if o.Protocol == "" {
		o.Protocol = ProtocolGRPC
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RetryFor <= 0 {
		o.RetryFor = DefaultRetryFor
	}
	if o.LogQueueSize <= 0 {
		o.LogQueueSize = DefaultQueueSize
	}
	if o.SpanQueueSize <= 0 {
		o.SpanQueueSize = DefaultQueueSize
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.ExportInterval <= 0 {
		o.ExportInterval = DefaultExportInterval
	}
	if o.MetricInterval <= 0 {
		o.MetricInterval = DefaultMetricInterval
	}
	return o
}

// resolveTarget validates the protocol and endpoint.
func (o Options) resolveTarget() (target, error) {
	var def string
	switch o.Protocol {
	case ProtocolGRPC:
		def = "localhost:4317"
	case ProtocolHTTP:
		def = "localhost:4318"
	default:
		return target{}, fmt.Errorf("unknown OTLP protocol %q (want %q or %q)", o.Protocol, ProtocolGRPC, ProtocolHTTP)
	}
	ep := o.Endpoint
	if ep == "" {
		ep = def
	}
	t := target{insecure: o.Insecure}
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil {
			return target{}, fmt.Errorf("parse endpoint %q: %w", ep, err)
		}
		switch u.Scheme {
		case "http":
			t.insecure = true
		case "https":
			if o.Insecure {
				return target{}, fmt.Errorf("endpoint %q is https but insecure is set", ep)
			}
		default:
			return target{}, fmt.Errorf("endpoint %q: unsupported scheme %q (want http or https)", ep, u.Scheme)
		}
		if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return target{}, fmt.Errorf("endpoint %q: user info, query and fragment are not allowed", ep)
		}
		if o.Protocol == ProtocolGRPC && strings.Trim(u.Path, "/") != "" {
			return target{}, fmt.Errorf("endpoint %q: a grpc endpoint has no path", ep)
		}
		t.pathPrefix = strings.TrimRight(u.Path, "/")
		ep = u.Host
		if u.Port() == "" {
			return target{}, fmt.Errorf("endpoint %q: missing port", o.Endpoint)
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

// connection resolves the endpoint and loads the TLS files.
func (o Options) connection() (target, *tls.Config, error) {
	t, err := o.resolveTarget()
	if err != nil {
		return target{}, nil, err
	}
	tlsCfg, err := o.TLS.tlsConfig()
	if err != nil {
		return target{}, nil, err
	}
	if t.insecure && tlsCfg != nil {
		return target{}, nil, errors.New("TLS files given for an insecure endpoint")
	}
	return t, tlsCfg, nil
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
