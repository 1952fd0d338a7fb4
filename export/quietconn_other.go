//go:build !unix

package export

import (
	"context"
	"net"

	"google.golang.org/grpc"
)

// quietDialOptions: gRPC's own dialer (quietconn_unix.go has why unix
// systems do without it).
func quietDialOptions(string) []grpc.DialOption { return nil }

// quietHTTPDial is nil: the OTLP/HTTP transport's own dialer.
var quietHTTPDial func(ctx context.Context, network, addr string) (net.Conn, error)
