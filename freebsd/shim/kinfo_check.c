//go:build ignore

/*
 * kinfo_check.c: compiled by freebsd/build.sh against FreeBSD 14 headers
 * (zig cc -target x86_64-freebsd.14.0). It asserts that the kinfo_proc
 * offsets freebsd/kinfo.go decodes, and the EVFILT_PROC notes kqueue.go
 * declares, are FreeBSD's. Nothing is linked.
 */
#include <sys/param.h>
#include <sys/event.h>
#include <sys/user.h>
#include <stddef.h>

#define K(f, n) _Static_assert(offsetof(struct kinfo_proc, f) == (n), "kinfo_proc." #f " moved")
_Static_assert(sizeof(struct kinfo_proc) == 1088, "kinfo_proc size");
K(ki_structsize, 0);
K(ki_pid, 72);
K(ki_ppid, 76);
K(ki_pgid, 80);
K(ki_sid, 88);
K(ki_uid, 168);
K(ki_ruid, 172);
K(ki_rgid, 180);
K(ki_groups, 192);
K(ki_start, 336);
K(ki_comm, 447);
K(ki_jid, 592);
K(ki_tid, 600);
_Static_assert(COMMLEN + 1 == 20, "COMMLEN");
_Static_assert(NOTE_EXIT == 0x80000000 && NOTE_FORK == 0x40000000 && NOTE_EXEC == 0x20000000, "notes");
_Static_assert(NOTE_TRACK == 1 && NOTE_TRACKERR == 2 && NOTE_CHILD == 4, "track notes");
