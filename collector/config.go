package collector

import (
	"fmt"
	"strconv"
	"time"

	"github.com/procotel/procotel/config"
	"github.com/procotel/procotel/pipeline"
)

// Config is the receiver's configuration: procotel's receiver model
// (config.Receiver: backend, filter, capture, pipeline, traces), whose
// keys sit at the top level of the receiver's section, and how the
// receiver hands its data to the next consumer.
type Config struct {
	config.Receiver `mapstructure:",squash"`

	// Delivery says how log records and spans are batched and handed on.
	Delivery Delivery `mapstructure:"delivery"`
}

// Delivery configures the batches the receiver hands to the next
// consumer in the Collector pipeline.
type Delivery struct {
	// FlushInterval is the longest a record waits in a partial batch.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// MaxBatch is the number of log records (or spans) that fills a batch.
	MaxBatch int `mapstructure:"max_batch"`
	// QueueSize is the number of full batches, per signal, that may wait
	// for the next consumer; beyond it batches are dropped and counted.
	QueueSize int `mapstructure:"queue_size"`
	// RetryFor bounds how long a batch the next consumer refused with a
	// retryable error is retried before it is dropped and counted; 0
	// disables retrying.
	RetryFor time.Duration `mapstructure:"retry_for"`
}

// Default delivery settings.
const (
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultMaxBatch      = 512
	DefaultQueueSize     = 64
	DefaultRetryFor      = 30 * time.Second
)

func createDefaultConfig() *Config {
	return &Config{
		Receiver: config.DefaultReceiver(),
		Delivery: Delivery{
			FlushInterval: DefaultFlushInterval,
			MaxBatch:      DefaultMaxBatch,
			QueueSize:     DefaultQueueSize,
			RetryFor:      DefaultRetryFor,
		},
	}
}

// Validate checks the configuration and returns the first problem as a
// *config.FieldError naming the field by its path in the receiver's
// section ("capture.argv_max", "delivery.max_batch").
func (c *Config) Validate() error {
	if err := c.Receiver.Check(); err != nil {
		return err
	}
	if c.Filter != "" {
		if _, err := pipeline.ParseFilter(c.Filter); err != nil {
			return &config.FieldError{Field: "filter", Msg: err.Error()}
		}
	}
	for i, j := range c.Capture.Jails {
		if _, err := strconv.ParseInt(j, 10, 32); err != nil {
			return &config.FieldError{Field: fmt.Sprintf("capture.jails[%d]", i),
				Msg: fmt.Sprintf("%q: give a jail id (names are not resolved here)", j)}
		}
	}
	d := c.Delivery
	if d.FlushInterval <= 0 || d.FlushInterval > time.Minute {
		return &config.FieldError{Field: "delivery.flush_interval", Msg: fmt.Sprintf("must be between 1ns and 1m, got %s", d.FlushInterval)}
	}
	if d.MaxBatch < 1 || d.MaxBatch > 1<<16 {
		return &config.FieldError{Field: "delivery.max_batch", Msg: fmt.Sprintf("must be between 1 and 65536, got %d", d.MaxBatch)}
	}
	if d.QueueSize < 1 || d.QueueSize > 1<<14 {
		return &config.FieldError{Field: "delivery.queue_size", Msg: fmt.Sprintf("must be between 1 and 16384, got %d", d.QueueSize)}
	}
	if d.RetryFor < 0 {
		return &config.FieldError{Field: "delivery.retry_for", Msg: fmt.Sprintf("must not be negative, got %s", d.RetryFor)}
	}
	return nil
}
