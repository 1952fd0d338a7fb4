//go:build (freebsd && cgo) || (linux && cgo && dtracefake)

/*
 * shim.c: copies each probe firing's records into a length-prefixed frame
 * (format documented in freebsd/stream.go) and hands it to Go.
 */
#include <stdlib.h>
#include <string.h>

#include "dtabi.h"
#include "shim.h"
#include "_cgo_export.h"

#define PT_MAX_RECS 64
#define PT_MAX_FRAME (1u << 20)

struct pt_consumer {
	dtrace_hdl_t *dtp;
	uintptr_t gohandle;
	unsigned char *buf;
	size_t cap;
	int started;
};

static void put16(unsigned char *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void put32(unsigned char *p, uint32_t v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }

static int pt_probe(const dtrace_probedata_t *pd, void *arg)
{
	pt_consumer_t *c = arg;
	const dtrace_eprobedesc_t *epd = pd->dtpda_edesc;
	size_t need = 12;
	int i;

	if (epd == NULL || epd->dtepd_nrecs < 0 || epd->dtepd_nrecs > PT_MAX_RECS) {
		procotelShimMalformed(c->gohandle);
		return DTRACE_CONSUME_NEXT;
	}
	for (i = 0; i < epd->dtepd_nrecs; i++) {
		const dtrace_recdesc_t *r = &epd->dtepd_rec[i];
		if ((uint64_t)r->dtrd_offset + r->dtrd_size > epd->dtepd_size) {
			procotelShimMalformed(c->gohandle);
			return DTRACE_CONSUME_NEXT;
		}
		need += 8 + (size_t)r->dtrd_size;
	}
	if (need > PT_MAX_FRAME) {
		procotelShimMalformed(c->gohandle);
		return DTRACE_CONSUME_NEXT;
	}
	if (need > c->cap) {
		unsigned char *nb = realloc(c->buf, need);
		if (nb == NULL) {
			procotelShimMalformed(c->gohandle);
			return DTRACE_CONSUME_NEXT;
		}
		c->buf = nb;
		c->cap = need;
	}

	/* pd->dtpda_data points at the firing's record header; every record
	 * offset is relative to it. */
	unsigned char *p = c->buf;
	put32(p, (uint32_t)(need - 4));
	put32(p + 4, (uint32_t)pd->dtpda_cpu);
	put32(p + 8, (uint32_t)epd->dtepd_nrecs);
	p += 12;
	for (i = 0; i < epd->dtepd_nrecs; i++) {
		const dtrace_recdesc_t *r = &epd->dtepd_rec[i];
		put16(p, r->dtrd_action);
		put16(p + 2, 0);
		put32(p + 4, r->dtrd_size);
		memcpy(p + 8, pd->dtpda_data + r->dtrd_offset, r->dtrd_size);
		p += 8 + r->dtrd_size;
	}
	procotelShimFrame(c->gohandle, c->buf, need);
	/* Everything is copied: tell libdtrace not to walk (or print) the
	 * records itself. */
	return DTRACE_CONSUME_NEXT;
}

static int pt_rec(const dtrace_probedata_t *pd, const dtrace_recdesc_t *r, void *arg)
{
	(void)pd;
	(void)r;
	(void)arg;
	return DTRACE_CONSUME_NEXT;
}

static int pt_drop(const dtrace_dropdata_t *dd, void *arg)
{
	pt_consumer_t *c = arg;
	procotelShimDrop(c->gohandle, dd->dtdda_kind, dd->dtdda_drops);
	return DTRACE_HANDLE_OK;
}

static int pt_err(const dtrace_errdata_t *ed, void *arg)
{
	pt_consumer_t *c = arg;
	procotelShimError(c->gohandle, ed->dteda_fault, (char *)ed->dteda_msg);
	return DTRACE_HANDLE_OK;
}

pt_consumer_t *pt_open(uintptr_t gohandle, int *err)
{
	pt_consumer_t *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		*err = -1;
		return NULL;
	}
	c->gohandle = gohandle;
	c->dtp = dtrace_open(DTRACE_VERSION, 0, err);
	if (c->dtp == NULL) {
		free(c);
		return NULL;
	}
	if (dtrace_handle_drop(c->dtp, pt_drop, c) == -1 ||
	    dtrace_handle_err(c->dtp, pt_err, c) == -1) {
		*err = dtrace_errno(c->dtp);
		dtrace_close(c->dtp);
		free(c);
		return NULL;
	}
	return c;
}

const char *pt_open_errmsg(int err)
{
	if (err == -1)
		return "out of memory";
	return dtrace_errmsg(NULL, err);
}

const char *pt_errmsg(pt_consumer_t *c)
{
	return dtrace_errmsg(c->dtp, dtrace_errno(c->dtp));
}

int pt_setopt(pt_consumer_t *c, const char *name, const char *value)
{
	return dtrace_setopt(c->dtp, name, value);
}

int pt_enable(pt_consumer_t *c, const char *src, unsigned int *matches)
{
	dtrace_proginfo_t info;
	dtrace_prog_t *prog;

	prog = dtrace_program_strcompile(c->dtp, src, DTRACE_PROBESPEC_NAME, 0, 0, NULL);
	if (prog == NULL)
		return -1;
	memset(&info, 0, sizeof(info));
	if (dtrace_program_exec(c->dtp, prog, &info) == -1)
		return -1;
	*matches = info.dpi_matches;
	return 0;
}

int pt_go(pt_consumer_t *c)
{
	if (dtrace_go(c->dtp) == -1)
		return -1;
	c->started = 1;
	return 0;
}

int pt_work(pt_consumer_t *c)
{
	dtrace_sleep(c->dtp);
	switch (dtrace_work(c->dtp, NULL, pt_probe, pt_rec, c)) {
	case DTRACE_WORKSTATUS_DONE:
		return 1;
	case DTRACE_WORKSTATUS_OKAY:
		return 0;
	default:
		return -1;
	}
}

void pt_close(pt_consumer_t *c)
{
	if (c == NULL)
		return;
	if (c->started)
		(void)dtrace_stop(c->dtp);
	dtrace_close(c->dtp);
	free(c->buf);
	free(c);
}
