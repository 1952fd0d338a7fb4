//go:build linux && cgo && dtracefake

/*
 * fake_dtrace.c: a stand-in for exactly the libdtrace functions the shim
 * calls, for tests on Linux. dtrace_open loads the fixture named by
 * $DTRACEFAKE_FIXTURE; dtrace_work replays it through the real shim
 * callbacks the way libdtrace's dt_consume_cpu does: for each firing it
 * calls the probe callback with dtpda_data at the firing's record header,
 * then (if the callback asks for it) the record callback per record and a
 * final NULL record. Drops and probe errors go to the installed handlers;
 * like libdtrace, a drop or error with no handler aborts consumption.
 *
 * Fixture format, little-endian:
 *   "PTDTFAK1" nprobes:u32
 *   probe  := size:u32 nrecs:u32 (action:u16 align:u16 size:u32 offset:u32)*nrecs
 *   entry* := 1 probe:u32 cpu:u32 len:u32 data[len]     firing
 *           | 2 kind:u32 drops:u64                      drop
 *           | 3 probe:u32 fault:i32 len:u32 msg[len]    probe error
 *           | 4                                         end of a dtrace_work batch
 * Environment knobs: DTRACEFAKE_OPEN_ERR=1 fails dtrace_open;
 * DTRACEFAKE_UNMATCHED=name fails compiling the clause for proc:::name;
 * DTRACEFAKE_ZEROMATCH=name makes its enabling match zero probes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtabi.h"

#define FAKE_EDT_NOENT 1001
#define FAKE_EDT_COMPILE 1002
#define FAKE_EDT_STATE 1003
#define FAKE_EDT_FIXTURE 1004
#define FAKE_EDT_DROPABORT 1005
#define FAKE_EDT_ERRABORT 1006

struct dtrace_hdl {
	unsigned char *fix;
	size_t len, pos;
	dtrace_eprobedesc_t **probes;
	uint32_t nprobes;
	int err;
	int going;
	int nenabled;
	char errbuf[256];
	dtrace_handle_err_f *errh;
	void *errarg;
	dtrace_handle_drop_f *droph;
	void *droparg;
	uint64_t droptotal;
};

struct dtrace_prog {
	int matches;
};

static int seterr(dtrace_hdl_t *h, int err, const char *msg)
{
	h->err = err;
	strncpy(h->errbuf, msg, sizeof(h->errbuf) - 1);
	return -1;
}

static int rd(dtrace_hdl_t *h, void *dst, size_t n)
{
	if (h->len - h->pos < n)
		return -1;
	memcpy(dst, h->fix + h->pos, n);
	h->pos += n;
	return 0;
}

static int load(dtrace_hdl_t *h, const char *path)
{
	FILE *f = fopen(path, "rb");
	long n;
	char magic[8];
	uint32_t i, j;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
		if (f != NULL)
			fclose(f);
		return -1;
	}
	rewind(f);
	h->fix = malloc(n > 0 ? n : 1);
	h->len = (size_t)n;
	if (h->fix == NULL || fread(h->fix, 1, n, f) != (size_t)n) {
		fclose(f);
		return -1;
	}
	fclose(f);
	if (rd(h, magic, 8) != 0 || memcmp(magic, "PTDTFAK1", 8) != 0 ||
	    rd(h, &h->nprobes, 4) != 0 || h->nprobes > 1024)
		return -1;
	h->probes = calloc(h->nprobes ? h->nprobes : 1, sizeof(*h->probes));
	for (i = 0; i < h->nprobes; i++) {
		uint32_t size, nrecs;
		dtrace_eprobedesc_t *epd;
		if (rd(h, &size, 4) != 0 || rd(h, &nrecs, 4) != 0 || nrecs > 256)
			return -1;
		epd = calloc(1, sizeof(*epd) + nrecs * sizeof(dtrace_recdesc_t));
		epd->dtepd_epid = i + 1;
		epd->dtepd_probeid = i + 1;
		epd->dtepd_size = size;
		epd->dtepd_nrecs = (int)nrecs;
		for (j = 0; j < nrecs; j++) {
			dtrace_recdesc_t *r = &epd->dtepd_rec[j];
			if (rd(h, &r->dtrd_action, 2) != 0 || rd(h, &r->dtrd_alignment, 2) != 0 ||
			    rd(h, &r->dtrd_size, 4) != 0 || rd(h, &r->dtrd_offset, 4) != 0)
				return -1;
		}
		h->probes[i] = epd;
	}
	return 0;
}

dtrace_hdl_t *dtrace_open(int version, int flags, int *errp)
{
	const char *path = getenv("DTRACEFAKE_FIXTURE");
	const char *fail = getenv("DTRACEFAKE_OPEN_ERR");
	dtrace_hdl_t *h;

	(void)flags;
	if (version != DTRACE_VERSION || (fail != NULL && *fail == '1') || path == NULL) {
		*errp = FAKE_EDT_NOENT;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (load(h, path) != 0) {
		*errp = FAKE_EDT_FIXTURE;
		dtrace_close(h);
		return NULL;
	}
	return h;
}

void dtrace_close(dtrace_hdl_t *h)
{
	uint32_t i;
	if (h == NULL)
		return;
	for (i = 0; h->probes != NULL && i < h->nprobes; i++)
		free(h->probes[i]);
	free(h->probes);
	free(h->fix);
	free(h);
}

int dtrace_errno(dtrace_hdl_t *h) { return h->err; }

const char *dtrace_errmsg(dtrace_hdl_t *h, int err)
{
	if (h != NULL && err == h->err && h->errbuf[0] != '\0')
		return h->errbuf;
	switch (err) {
	case FAKE_EDT_NOENT:
		return "failed to open /dev/dtrace/dtrace: No such file or directory";
	case FAKE_EDT_FIXTURE:
		return "fake libdtrace: cannot load $DTRACEFAKE_FIXTURE";
	}
	return "fake libdtrace: unknown error";
}

int dtrace_setopt(dtrace_hdl_t *h, const char *name, const char *value)
{
	static const char *known[] = {"bufsize", "strsize", "switchrate", "temporal",
	    "bufpolicy", "statusrate", NULL};
	int i;
	(void)value;
	if (h->going)
		return seterr(h, FAKE_EDT_STATE, "option set after dtrace_go");
	for (i = 0; known[i] != NULL; i++)
		if (strcmp(known[i], name) == 0)
			return 0;
	return seterr(h, EINVAL, "invalid option name");
}

static int listed(const char *env, const char *probe)
{
	const char *v = getenv(env);
	size_t n = strlen(probe);
	while (v != NULL && *v != '\0') {
		const char *end = strchr(v, ',');
		size_t len = end ? (size_t)(end - v) : strlen(v);
		if (len == n && strncmp(v, probe, n) == 0)
			return 1;
		v = end ? end + 1 : NULL;
	}
	return 0;
}

dtrace_prog_t *dtrace_program_strcompile(dtrace_hdl_t *h, const char *src,
    int spec, unsigned int cflags, int argc, char *const argv[])
{
	const char *p = strstr(src, "proc:::");
	char probe[64];
	size_t n;
	dtrace_prog_t *prog;

	(void)spec; (void)cflags; (void)argc; (void)argv;
	if (h->going) {
		seterr(h, FAKE_EDT_STATE, "program compiled after dtrace_go");
		return NULL;
	}
	if (p == NULL || strstr(src, "trace(") == NULL || strstr(src, "printf") != NULL) {
		seterr(h, FAKE_EDT_COMPILE, "fake libdtrace: clause is not a proc::: clause of trace() actions");
		return NULL;
	}
	p += strlen("proc:::");
	n = strcspn(p, " \n/{");
	if (n == 0 || n >= sizeof(probe)) {
		seterr(h, FAKE_EDT_COMPILE, "fake libdtrace: bad probe description");
		return NULL;
	}
	memcpy(probe, p, n);
	probe[n] = '\0';
	if (listed("DTRACEFAKE_UNMATCHED", probe)) {
		snprintf(h->errbuf, sizeof(h->errbuf),
		    "probe description proc:::%s does not match any probes", probe);
		h->err = FAKE_EDT_COMPILE;
		return NULL;
	}
	prog = calloc(1, sizeof(*prog));
	prog->matches = listed("DTRACEFAKE_ZEROMATCH", probe) ? 0 : 1;
	return prog;
}

int dtrace_program_exec(dtrace_hdl_t *h, dtrace_prog_t *prog, dtrace_proginfo_t *info)
{
	memset(info, 0, sizeof(*info));
	info->dpi_matches = prog->matches;
	info->dpi_recgens = 1;
	h->nenabled++;
	free(prog); /* the fake keeps nothing of a program */
	return 0;
}

int dtrace_handle_err(dtrace_hdl_t *h, dtrace_handle_err_f *f, void *arg)
{
	h->errh = f;
	h->errarg = arg;
	return 0;
}

int dtrace_handle_drop(dtrace_hdl_t *h, dtrace_handle_drop_f *f, void *arg)
{
	h->droph = f;
	h->droparg = arg;
	return 0;
}

int dtrace_go(dtrace_hdl_t *h)
{
	if (h->nenabled == 0)
		return seterr(h, FAKE_EDT_STATE, "no enablings");
	h->going = 1;
	return 0;
}

int dtrace_stop(dtrace_hdl_t *h)
{
	h->going = 0;
	return 0;
}

void dtrace_sleep(dtrace_hdl_t *h)
{
	struct timespec ts = {0, 1000000};
	(void)h;
	nanosleep(&ts, NULL);
}

static int replay_firing(dtrace_hdl_t *h, dtrace_consume_probe_f *pf,
    dtrace_consume_rec_f *rf, void *arg)
{
	uint32_t probe, cpu, len;
	dtrace_probedata_t pd;
	dtrace_eprobedesc_t *epd;
	unsigned char *data;
	int i, rv;

	if (rd(h, &probe, 4) != 0 || rd(h, &cpu, 4) != 0 || rd(h, &len, 4) != 0 ||
	    probe >= h->nprobes || h->len - h->pos < len)
		return seterr(h, FAKE_EDT_FIXTURE, "fake libdtrace: corrupt firing");
	epd = h->probes[probe];
	if (len != epd->dtepd_size)
		return seterr(h, FAKE_EDT_FIXTURE, "fake libdtrace: firing size differs from its probe");
	/* Copy into a buffer of its own so an over-read is caught by tools. */
	data = malloc(len ? len : 1);
	memcpy(data, h->fix + h->pos, len);
	h->pos += len;

	memset(&pd, 0, sizeof(pd));
	pd.dtpda_handle = h;
	pd.dtpda_edesc = epd;
	pd.dtpda_cpu = (int)cpu;
	pd.dtpda_data = (char *)data;
	rv = pf(&pd, arg);
	if (rv == DTRACE_CONSUME_THIS) {
		for (i = 0; i < epd->dtepd_nrecs; i++) {
			pd.dtpda_data = (char *)data + epd->dtepd_rec[i].dtrd_offset;
			rv = rf(&pd, &epd->dtepd_rec[i], arg);
			if (rv == DTRACE_CONSUME_NEXT)
				continue;
			if (rv != DTRACE_CONSUME_THIS)
				break;
		}
		if (rv == DTRACE_CONSUME_THIS || rv == DTRACE_CONSUME_NEXT)
			rv = rf(&pd, NULL, arg);
	}
	free(data);
	if (rv == DTRACE_CONSUME_ABORT || rv == DTRACE_CONSUME_ERROR)
		return seterr(h, FAKE_EDT_STATE, "consumer aborted");
	return 0;
}

int dtrace_work(dtrace_hdl_t *h, FILE *fp, dtrace_consume_probe_f *pf,
    dtrace_consume_rec_f *rf, void *arg)
{
	(void)fp;
	if (!h->going) {
		seterr(h, FAKE_EDT_STATE, "dtrace_work before dtrace_go");
		return DTRACE_WORKSTATUS_ERROR;
	}
	while (h->pos < h->len) {
		unsigned char type;
		if (rd(h, &type, 1) != 0)
			break;
		switch (type) {
		case 1:
			if (replay_firing(h, pf, rf, arg) != 0)
				return DTRACE_WORKSTATUS_ERROR;
			break;
		case 2: {
			dtrace_dropdata_t dd;
			uint32_t kind;
			uint64_t drops;
			if (rd(h, &kind, 4) != 0 || rd(h, &drops, 8) != 0) {
				seterr(h, FAKE_EDT_FIXTURE, "fake libdtrace: corrupt drop");
				return DTRACE_WORKSTATUS_ERROR;
			}
			if (h->droph == NULL) {
				seterr(h, FAKE_EDT_DROPABORT, "drop with no drop handler");
				return DTRACE_WORKSTATUS_ERROR;
			}
			h->droptotal += drops;
			memset(&dd, 0, sizeof(dd));
			dd.dtdda_handle = h;
			dd.dtdda_kind = (int)kind;
			dd.dtdda_drops = drops;
			dd.dtdda_total = h->droptotal;
			dd.dtdda_msg = "fake drops\n";
			if (h->droph(&dd, h->droparg) != DTRACE_HANDLE_OK) {
				seterr(h, FAKE_EDT_DROPABORT, "drop handler aborted");
				return DTRACE_WORKSTATUS_ERROR;
			}
			break;
		}
		case 3: {
			dtrace_errdata_t ed;
			uint32_t probe, len;
			int32_t fault;
			char msg[256];
			if (rd(h, &probe, 4) != 0 || rd(h, &fault, 4) != 0 || rd(h, &len, 4) != 0 ||
			    len >= sizeof(msg) || rd(h, msg, len) != 0 || probe >= h->nprobes) {
				seterr(h, FAKE_EDT_FIXTURE, "fake libdtrace: corrupt error");
				return DTRACE_WORKSTATUS_ERROR;
			}
			msg[len] = '\0';
			if (h->errh == NULL) {
				seterr(h, FAKE_EDT_ERRABORT, "error with no error handler");
				return DTRACE_WORKSTATUS_ERROR;
			}
			memset(&ed, 0, sizeof(ed));
			ed.dteda_handle = h;
			ed.dteda_edesc = h->probes[probe];
			ed.dteda_fault = fault;
			ed.dteda_msg = msg;
			if (h->errh(&ed, h->errarg) != DTRACE_HANDLE_OK) {
				seterr(h, FAKE_EDT_ERRABORT, "error handler aborted");
				return DTRACE_WORKSTATUS_ERROR;
			}
			break;
		}
		case 4:
			return DTRACE_WORKSTATUS_OKAY;
		default:
			seterr(h, FAKE_EDT_FIXTURE, "fake libdtrace: unknown fixture entry");
			return DTRACE_WORKSTATUS_ERROR;
		}
	}
	return DTRACE_WORKSTATUS_DONE;
}
