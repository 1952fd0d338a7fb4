package export

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
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
	// send returns the server's partial-success answer, or an error
	// (an *exportError for the OTLP senders).
	send(ctx context.Context, body []byte) (partialSuccess, error)
	close() error
}

// partialSuccess is an export response's partial_success: how many
// records or spans the server rejected and why. Zero for a full success.
type partialSuccess struct {
	rejected int64
	message  string
}

// parsePartialSuccess reads ExportLogsServiceResponse or
// ExportTraceServiceResponse (the same shape: 1: partial_success {
// 1: rejected_log_records / rejected_spans, 2: error_message }). A
// response it cannot read counts as a full success, as in the SDK.
func parsePartialSuccess(b []byte) partialSuccess {
	var ps partialSuccess
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return partialSuccess{}
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			m, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return partialSuccess{}
			}
			b = b[n:]
			for len(m) > 0 {
				num, typ, n := protowire.ConsumeTag(m)
				if n < 0 {
					return partialSuccess{}
				}
				m = m[n:]
				switch {
				case num == 1 && typ == protowire.VarintType:
					v, n := protowire.ConsumeVarint(m)
					if n < 0 {
						return partialSuccess{}
					}
					ps.rejected, m = int64(v), m[n:]
				case num == 2 && typ == protowire.BytesType:
					v, n := protowire.ConsumeBytes(m)
					if n < 0 {
						return partialSuccess{}
					}
					ps.message, m = string(v), m[n:]
				default:
					n := protowire.ConsumeFieldValue(num, typ, m)
					if n < 0 {
						return partialSuccess{}
					}
					m = m[n:]
				}
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return partialSuccess{}
		}
		b = b[n:]
	}
	if ps.rejected < 0 {
		ps.rejected = 0
	}
	return ps
}

// rawCodec passes requests through as the bytes the exporter encoded,
// and keeps responses as bytes for parsePartialSuccess.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}
func (rawCodec) Name() string { return "proto" }

// grpcConn is one gRPC connection, shared by the signals that resolve
// to the same endpoint and TLS settings.
type grpcConn struct {
	cc   *grpc.ClientConn
	refs int
}

// grpcConnKey is what makes two signals share a connection.
type grpcConnKey struct {
	hostPort string
	insecure bool
	tls      TLSOptions
}

func dialGRPC(c signalConfig) (*grpc.ClientConn, error) {
	creds := credentials.NewTLS(c.tls)
	if c.target.insecure {
		creds = insecure.NewCredentials()
	}
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithUserAgent(userAgent),
		grpc.WithConnectParams(grpcConnectParams)}, quietDialOptions(c.target.hostPort)...)
	cc, err := grpc.NewClient(c.target.hostPort, opts...)
	if err != nil {
		return nil, fmt.Errorf("create OTLP/gRPC client: %w", err)
	}
	return cc, nil
}

// grpcSender calls one OTLP/gRPC Export method.
type grpcSender struct {
	conn   *grpcConn
	method string
	md     metadata.MD
	opts   []grpc.CallOption
}

func newGRPCSender(conn *grpcConn, method string, c signalConfig) *grpcSender {
	conn.refs++
	s := &grpcSender{conn: conn, method: method, md: metadata.New(c.headers),
		opts: []grpc.CallOption{grpc.ForceCodecV2(rawCodec{})}}
	if c.compression == CompressionGzip {
		s.opts = append(s.opts, grpc.UseCompressor(grpcgzip.Name))
	}
	return s
}

func (s *grpcSender) send(ctx context.Context, body []byte) (partialSuccess, error) {
	if len(s.md) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, s.md)
	}
	var reply []byte
	if err := s.conn.cc.Invoke(ctx, s.method, &body, &reply, s.opts...); err != nil {
		return partialSuccess{}, grpcError(err)
	}
	return parsePartialSuccess(reply), nil
}

// grpcError classifies a failed OTLP/gRPC call: the retryable codes of
// the OTLP specification, RESOURCE_EXHAUSTED only with RetryInfo.
func grpcError(err error) *exportError {
	st := status.Convert(err)
	e := &exportError{kind: "gRPC " + st.Code().String(), detail: st.Message(), err: fmt.Errorf("export over OTLP/gRPC: %w", err)}
	retryInfo := false
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			retryInfo = true
			if ri.RetryDelay != nil {
				e.throttle = max(ri.RetryDelay.AsDuration(), 0)
			}
		}
	}
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange, codes.Unavailable, codes.DataLoss:
		e.retryable = true
	case codes.ResourceExhausted:
		e.retryable = retryInfo
	case codes.Unimplemented:
		e.unimplemented = true
	}
	return e
}

func (s *grpcSender) close() error {
	s.conn.refs--
	if s.conn.refs == 0 {
		return s.conn.cc.Close()
	}
	return nil
}

// httpSender posts to one OTLP/HTTP URL.
type httpSender struct {
	client  *http.Client
	url     string
	headers map[string]string
	gzip    bool
	zw      *gzip.Writer // reused; send is called from one goroutine
}

func newHTTPClient(tlsCfg *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	if quietHTTPDial != nil {
		tr.DialContext = quietHTTPDial
	}
	return &http.Client{Transport: tr}
}

func newHTTPSender(c signalConfig) *httpSender {
	return &httpSender{client: newHTTPClient(c.tls), url: c.url, headers: c.headers, gzip: c.compression == CompressionGzip}
}

// compress returns body gzipped, in a new buffer: the transport may
// still read a request's body after Do returned.
func (s *httpSender) compress(body []byte) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, len(body)/4))
	if s.zw == nil {
		s.zw = gzip.NewWriter(buf)
	} else {
		s.zw.Reset(buf)
	}
	if _, err := s.zw.Write(body); err != nil {
		return nil, err
	}
	if err := s.zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *httpSender) send(ctx context.Context, body []byte) (partialSuccess, error) {
	if s.gzip {
		z, err := s.compress(body)
		if err != nil {
			return partialSuccess{}, &exportError{kind: "gzip", err: fmt.Errorf("compress OTLP/HTTP request: %w", err)}
		}
		body = z
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return partialSuccess{}, &exportError{kind: "request", err: fmt.Errorf("build OTLP/HTTP request: %w", err)}
	}
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", userAgent)
	if s.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return partialSuccess{}, &exportError{kind: "connection error", retryable: true, detail: err.Error(),
			err: fmt.Errorf("export over OTLP/HTTP: %w", err)}
	}
	// Read the (small) response whole so that the connection is reused.
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return parsePartialSuccess(reply), nil
	}
	return partialSuccess{}, httpError(resp, reply)
}

// httpError classifies a failed OTLP/HTTP response: 429, 502, 503 and
// 504 are retryable (after Retry-After, when given), the rest permanent.
func httpError(resp *http.Response, body []byte) *exportError {
	msg := resp.Status
	var st statuspb.Status
	if len(body) > 0 && proto.Unmarshal(body, &st) == nil && st.Message != "" {
		msg += ": " + st.Message
	} else if t := strings.TrimSpace(string(body)); t != "" && utf8.ValidString(t) && !strings.ContainsRune(t, 0) {
		msg += ": " + truncate(t, 200)
	}
	e := &exportError{kind: fmt.Sprintf("HTTP %d", resp.StatusCode), detail: msg, err: fmt.Errorf("export over OTLP/HTTP: %s", msg)}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		e.retryable = true
		e.throttle = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	case http.StatusNotFound, http.StatusNotImplemented:
		e.unimplemented = true
	}
	return e
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP-date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 1<<30)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func (s *httpSender) close() error {
	s.client.CloseIdleConnections()
	return nil
}
