package export

import (
	"time"

	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/procotel/procotel/semconv"
)

// resourceOpt is the resource of the metrics provider, the same as the
// one the log and span envelopes carry.
type resourceOpt struct {
	res     *resource.Resource
	version string
}

func newResource(o Options) resourceOpt {
	attrs := semconv.ResourceAttributes(o.Observer, nil)
	attrs = append(attrs, o.ResourceAttributes...) // later keys win
	return resourceOpt{
		res:     resource.NewWithAttributes(semconv.SchemaURL, attrs...),
		version: o.Observer.ServiceVersion,
	}
}

// grpcConnectParams reconnect quickly after the receiver comes back:
// gRPC's default backoff grows to two minutes.
var grpcConnectParams = grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 250 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
	MinConnectTimeout: 5 * time.Second,
}

// grpcDialOptions are the dial options of every OTLP/gRPC connection.
func grpcDialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithConnectParams(grpcConnectParams)}
}
