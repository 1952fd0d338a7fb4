/*
 * dtabi.h: the part of libdtrace's ABI that procotel's shim uses, declared
 * by procotel (not copied from dtrace.h). Values are those of FreeBSD 14 on
 * amd64 (cddl/contrib/opensolaris/lib/libdtrace/common/dtrace.h and
 * sys/cddl/contrib/opensolaris/uts/common/sys/dtrace.h); every field the
 * shim reads has its offset asserted below, so a layout change fails the
 * build instead of misreading memory.
 */
#ifndef PROCOTEL_DTABI_H
#define PROCOTEL_DTABI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DTRACE_VERSION 3 /* library ABI version passed to dtrace_open */

#define DTRACE_PROBESPEC_NAME 3 /* dtrace_probespec_t */

#define DTRACE_CONSUME_ERROR -1
#define DTRACE_CONSUME_THIS 0
#define DTRACE_CONSUME_NEXT 1
#define DTRACE_CONSUME_ABORT 2

#define DTRACE_HANDLE_ABORT -1
#define DTRACE_HANDLE_OK 0

#define DTRACE_WORKSTATUS_ERROR -1
#define DTRACE_WORKSTATUS_OKAY 0
#define DTRACE_WORKSTATUS_DONE 1

#define DTRACEDROP_NKINDS 10 /* DTRACEDROP_PRINCIPAL .. DTRACEDROP_DBLERROR */

typedef struct dtrace_hdl dtrace_hdl_t;   /* opaque */
typedef struct dtrace_prog dtrace_prog_t; /* opaque */
typedef struct dtrace_probedesc dtrace_probedesc_t; /* opaque: never read */

typedef struct dtrace_recdesc {
	uint16_t dtrd_action;
	uint32_t dtrd_size;
	uint32_t dtrd_offset;
	uint16_t dtrd_alignment;
	uint16_t dtrd_format;
	uint64_t dtrd_arg;
	uint64_t dtrd_uarg;
} dtrace_recdesc_t;

typedef struct dtrace_eprobedesc {
	uint32_t dtepd_epid;
	uint32_t dtepd_probeid;
	uint64_t dtepd_uarg;
	uint32_t dtepd_size;
	int dtepd_nrecs;
	dtrace_recdesc_t dtepd_rec[1];
} dtrace_eprobedesc_t;

typedef struct dtrace_probedata {
	dtrace_hdl_t *dtpda_handle;
	dtrace_eprobedesc_t *dtpda_edesc;
	dtrace_probedesc_t *dtpda_pdesc;
	int dtpda_cpu;
	char *dtpda_data;
	int dtpda_flow;
	const char *dtpda_prefix;
	int dtpda_indent;
} dtrace_probedata_t;

typedef struct dtrace_errdata {
	dtrace_hdl_t *dteda_handle;
	dtrace_eprobedesc_t *dteda_edesc;
	dtrace_probedesc_t *dteda_pdesc;
	int dteda_cpu;
	int dteda_action;
	int dteda_offset;
	int dteda_fault;
	uint64_t dteda_addr;
	const char *dteda_msg;
} dtrace_errdata_t;

typedef struct dtrace_dropdata {
	dtrace_hdl_t *dtdda_handle;
	int dtdda_cpu;
	int dtdda_kind;
	uint64_t dtdda_drops;
	uint64_t dtdda_total;
	const char *dtdda_msg;
} dtrace_dropdata_t;

typedef struct dtrace_attribute {
	uint8_t dtat_name, dtat_data, dtat_class;
} dtrace_attribute_t;

typedef struct dtrace_proginfo {
	dtrace_attribute_t dpi_descattr;
	dtrace_attribute_t dpi_stmtattr;
	unsigned int dpi_aggregates;
	unsigned int dpi_recgens;
	unsigned int dpi_matches;
	unsigned int dpi_speculations;
} dtrace_proginfo_t;

/*
 * PT_ASSERT_OFF fails the build when field f of t is not at offset n;
 * PT_ASSERT_OFFS does so for the three fields of t the shim reads.
 */
#define PT_ASSERT_OFF(t, f, n) _Static_assert(offsetof(t, f) == (n), #t "." #f " is not at " #n)
#define PT_ASSERT_OFFS(t, f1, n1, f2, n2, f3, n3) \
	PT_ASSERT_OFF(t, f1, n1);                 \
	PT_ASSERT_OFF(t, f2, n2);                 \
	PT_ASSERT_OFF(t, f3, n3)
PT_ASSERT_OFFS(dtrace_recdesc_t, dtrd_action, 0, dtrd_size, 4, dtrd_offset, 8);
_Static_assert(sizeof(dtrace_recdesc_t) == 32, "dtrace_recdesc_t is not 32 bytes");
PT_ASSERT_OFFS(dtrace_eprobedesc_t, dtepd_size, 16, dtepd_nrecs, 20, dtepd_rec, 24);
PT_ASSERT_OFFS(dtrace_probedata_t, dtpda_edesc, 8, dtpda_cpu, 24, dtpda_data, 32);
PT_ASSERT_OFFS(dtrace_errdata_t, dteda_cpu, 24, dteda_fault, 36, dteda_msg, 48);
PT_ASSERT_OFFS(dtrace_dropdata_t, dtdda_kind, 12, dtdda_drops, 16, dtdda_msg, 32);
PT_ASSERT_OFF(dtrace_proginfo_t, dpi_matches, 16);
_Static_assert(sizeof(dtrace_proginfo_t) == 24, "dtrace_proginfo_t is not 24 bytes");

typedef int dtrace_consume_probe_f(const dtrace_probedata_t *, void *);
typedef int dtrace_consume_rec_f(const dtrace_probedata_t *, const dtrace_recdesc_t *, void *);
typedef int dtrace_handle_err_f(const dtrace_errdata_t *, void *);
typedef int dtrace_handle_drop_f(const dtrace_dropdata_t *, void *);

extern dtrace_hdl_t *dtrace_open(int, int, int *);
extern void dtrace_close(dtrace_hdl_t *);
extern int dtrace_errno(dtrace_hdl_t *);
extern const char *dtrace_errmsg(dtrace_hdl_t *, int);
extern int dtrace_setopt(dtrace_hdl_t *, const char *, const char *);
extern dtrace_prog_t *dtrace_program_strcompile(dtrace_hdl_t *, const char *,
    int, unsigned int, int, char *const[]);
extern int dtrace_program_exec(dtrace_hdl_t *, dtrace_prog_t *, dtrace_proginfo_t *);
extern int dtrace_handle_err(dtrace_hdl_t *, dtrace_handle_err_f *, void *);
extern int dtrace_handle_drop(dtrace_hdl_t *, dtrace_handle_drop_f *, void *);
extern int dtrace_go(dtrace_hdl_t *);
extern int dtrace_stop(dtrace_hdl_t *);
extern void dtrace_sleep(dtrace_hdl_t *);
extern int dtrace_work(dtrace_hdl_t *, FILE *, dtrace_consume_probe_f *,
    dtrace_consume_rec_f *, void *);

#endif
