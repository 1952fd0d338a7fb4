package export

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
)

// userAgent names procotel to the receiver.
const userAgent = "procotel OTLP exporter"

// The OTLP/gRPC methods.
const (
	grpcLogsMethod   = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
	grpcTracesMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
)

// sender sends one encoded OTLP export request.
type sender interface {
	send(ctx context.Context, body []byte) error
	close() error
}

// rawCodec passes requests through as the bytes the exporter encoded, and
// ignores responses: a partial success is a success, as in the SDK.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}
func (rawCodec) Unmarshal(mem.BufferSlice, any) error { return nil }
func (rawCodec) Name() string                         { return "proto" }

// grpcConn is one gRPC connection shared by both signals.
type grpcConn struct {
	cc *grpc.ClientConn
	md metadata.MD
}

func dialGRPC(o Options, t target, tlsCfg *tls.Config) (*grpcConn, error) {
	creds := credentials.NewTLS(tlsCfg)
	if t.insecure {
		creds = insecure.NewCredentials()
	}
	cc, err := grpc.NewClient(t.hostPort,
		grpc.WithTransportCredentials(creds),
		grpc.WithUserAgent(userAgent),
		grpc.WithConnectParams(grpcConnectParams))
	if err != nil {
		return nil, fmt.Errorf("create OTLP/gRPC client: %w", err)
	}
	return &grpcConn{cc: cc, md: metadata.New(o.Headers)}, nil
}

// grpcSender calls one OTLP/gRPC Export method.
type grpcSender struct {
	conn   *grpcConn
	method string
	owner  bool // closes the connection
}

func (s *grpcSender) send(ctx context.Context, body []byte) error {
	if len(s.conn.md) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, s.conn.md)
	}
	var reply struct{}
	if err := s.conn.cc.Invoke(ctx, s.method, &body, &reply, grpc.ForceCodecV2(rawCodec{})); err != nil {
		return fmt.Errorf("export over OTLP/gRPC: %w", err)
	}
	return nil
}

func (s *grpcSender) close() error {
	if s.owner {
		return s.conn.cc.Close()
	}
	return nil
}

// httpSender posts to one OTLP/HTTP path.
type httpSender struct {
	client  *http.Client
	url     string
	headers map[string]string
}

func newHTTPClient(tlsCfg *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	return &http.Client{Transport: tr}
}

func (s *httpSender) send(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build OTLP/HTTP request: %w", err)
	}
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", userAgent)
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("export over OTLP/HTTP: %w", err)
	}
	// Read the (small) response so that the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("export over OTLP/HTTP: %s", resp.Status)
	}
	return nil
}

func (s *httpSender) close() error {
	s.client.CloseIdleConnections()
	return nil
}
