//go:build unix

package export

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	collogpb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

// testCert returns a TLS certificate for 127.0.0.1 and the path of a PEM
// file holding it, to trust it with.
func testCert(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "procotel test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, ca
}

// TestQuietConnTLS exports over TLS, gRPC and HTTP, through the quiet
// connection: the records the exporter was handed all arrive.
func TestQuietConnTLS(t *testing.T) {
	cert, ca := testCert(t)
	const n = 300
	send := func(t *testing.T, o Options, received func() int) {
		o.Logs, o.TLS = true, TLSOptions{CAFile: ca}
		x, err := New(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			x.Event(execEvent(int32(1000 + i)))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := x.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if got := received(); got != n {
			t.Fatalf("server received %d log records over TLS, want the %d handed over", got, n)
		}
		if l := x.Stats().LogTotals(); l.Exported != n {
			t.Fatalf("exporter counts %d exported, want %d", l.Exported, n)
		}
	}

	t.Run("grpc", func(t *testing.T) {
		if len(quietDialOptions("127.0.0.1:4317")) != 1 {
			t.Skip("a proxy from the environment applies: gRPC's own dialer is used")
		}
		s := &grpcFaults{}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gs := grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(&cert)), grpc.StatsHandler(s))
		collogpb.RegisterLogsServiceServer(gs, s)
		coltracepb.RegisterTraceServiceServer(gs, traceService{s: s})
		go func() { _ = gs.Serve(l) }()
		defer gs.Stop()
		o := faultOptions(io.Discard)
		o.Endpoint = "https://" + l.Addr().String()
		send(t, o, s.received)
	})

	t.Run("http", func(t *testing.T) {
		var mu sync.Mutex
		recs := 0
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			recs += countRecords(body)
			mu.Unlock()
			w.Header().Set("Content-Type", "application/x-protobuf")
			b, _ := proto.Marshal(&collogpb.ExportLogsServiceResponse{})
			_, _ = w.Write(b)
		}))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		srv.StartTLS()
		defer srv.Close()
		o := faultOptions(io.Discard)
		o.Protocol, o.Endpoint = ProtocolHTTP, srv.URL
		send(t, o, func() int {
			mu.Lock()
			defer mu.Unlock()
			return recs
		})
	})
}
