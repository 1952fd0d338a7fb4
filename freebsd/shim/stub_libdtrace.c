//go:build ignore

/*
 * stub_libdtrace.c: a link-time stand-in for libdtrace.so, built by
 * freebsd/build.sh from dtabi.h so a FreeBSD binary can be linked off
 * FreeBSD. It is never shipped: at run time the dynamic linker loads the
 * system's /lib/libdtrace.so.2. Every function fails.
 */
#include <errno.h>
#include "dtabi.h"

dtrace_hdl_t *dtrace_open(int v, int f, int *err) { (void)v; (void)f; *err = ENOSYS; return NULL; }
void dtrace_close(dtrace_hdl_t *h) { (void)h; }
int dtrace_errno(dtrace_hdl_t *h) { (void)h; return ENOSYS; }
const char *dtrace_errmsg(dtrace_hdl_t *h, int e) { (void)h; (void)e; return "stub libdtrace"; }
int dtrace_setopt(dtrace_hdl_t *h, const char *n, const char *v) { (void)h; (void)n; (void)v; return -1; }
dtrace_prog_t *dtrace_program_strcompile(dtrace_hdl_t *h, const char *s, int p, unsigned int f, int c, char *const a[])
{ (void)h; (void)s; (void)p; (void)f; (void)c; (void)a; return NULL; }
int dtrace_program_exec(dtrace_hdl_t *h, dtrace_prog_t *p, dtrace_proginfo_t *i) { (void)h; (void)p; (void)i; return -1; }
int dtrace_handle_err(dtrace_hdl_t *h, dtrace_handle_err_f *f, void *a) { (void)h; (void)f; (void)a; return -1; }
int dtrace_handle_drop(dtrace_hdl_t *h, dtrace_handle_drop_f *f, void *a) { (void)h; (void)f; (void)a; return -1; }
int dtrace_go(dtrace_hdl_t *h) { (void)h; return -1; }
int dtrace_stop(dtrace_hdl_t *h) { (void)h; return -1; }
void dtrace_sleep(dtrace_hdl_t *h) { (void)h; }
int dtrace_work(dtrace_hdl_t *h, FILE *fp, dtrace_consume_probe_f *p, dtrace_consume_rec_f *r, void *a)
{ (void)h; (void)fp; (void)p; (void)r; (void)a; return DTRACE_WORKSTATUS_ERROR; }
