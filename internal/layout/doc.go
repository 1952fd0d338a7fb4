// Package layout holds no code: its test enforces the import directions of
// the package table in the design (which procotel packages each may import),
// for the Linux and the FreeBSD build, so that a change that makes, say,
// backends import config fails `make test` and `make lint`.
package layout
