/*
 * shim.h: procotel's C consumer over libdtrace. One pt_consumer per
 * dtrace handle; every call on it must come from the same OS thread.
 * Records reach Go through the exported functions in shim.go, keyed by a
 * runtime/cgo.Handle; C never stores a Go pointer.
 */
#ifndef PROCOTEL_SHIM_H
#define PROCOTEL_SHIM_H

#include <stddef.h>
#include <stdint.h>

typedef struct pt_consumer pt_consumer_t;

/* pt_open opens libdtrace and installs the drop and error handlers. On
 * failure it returns NULL and sets *err to libdtrace's error number. */
pt_consumer_t *pt_open(uintptr_t gohandle, int *err);
/* pt_open_errmsg describes an error number from pt_open. */
const char *pt_open_errmsg(int err);
/* pt_errmsg describes the consumer's last libdtrace error. */
const char *pt_errmsg(pt_consumer_t *c);
/* pt_setopt sets an option; a NULL value sets a boolean option. */
int pt_setopt(pt_consumer_t *c, const char *name, const char *value);
/* pt_enable compiles one clause and enables it; *matches is the number
 * of probes it matched. */
int pt_enable(pt_consumer_t *c, const char *src, unsigned int *matches);
int pt_go(pt_consumer_t *c);
/* pt_work waits for the next switch interval and consumes what the
 * kernel buffered: 0 when more may come, 1 when tracing has stopped, -1 on
 * error. */
int pt_work(pt_consumer_t *c);
/* pt_close stops tracing and frees everything. */
void pt_close(pt_consumer_t *c);

#endif
