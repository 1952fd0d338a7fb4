// Package collector is procotel's OpenTelemetry Collector receiver
// (component type "procotel"): it runs a backend and the pipeline inside
// the Collector and hands events to logs pipelines as log records and
// process lifetimes to traces pipelines as spans, with the same mapping
// and the same ids as the standalone exporter (semconv's mapping). One
// receiver instance, and so one backend, serves both signals of one
// configuration. Its builder manifest and example configuration are in
// otelcol-procotel/; build.sh builds the distribution.
package collector
