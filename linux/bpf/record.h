/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * record.h is the ring buffer record format shared with the Go decoder
 * (linux/record.go). A record is a fixed 200-byte header, followed for exec
 * kinds by a tail of strings whose lengths the header gives. All integers
 * are in the host's byte order. Change this file and record.go together;
 * TestRecordLayout checks the Go offsets against bpf2go's rendering of
 * struct record.
 *
 * Not every kind fills the whole header: what a process cannot change
 * after its fork, or what the pipeline has from an earlier record, is left
 * zero (audit ids unset) and filled by user space from its table of
 * processes (pipeline/enrich.go). Exec, failed exec and exit records leave
 * out nspid and parent_start; reap records also pgid, sid, tty and the
 * audit ids (a zombie's are those of its exit record).
 */
#ifndef PROCOTEL_RECORD_H
#define PROCOTEL_RECORD_H

/* Kinds, numbered as semconv.Kind. */
enum kind {
	KIND_FORK = 1,
	KIND_EXEC = 4,
	KIND_EXEC_FAILED = 5,
	KIND_EXIT = 6,
	KIND_REAP = 7,
	KIND_SIGNAL = 8,
	KIND_THREAD_START = 9,
	KIND_THREAD_EXIT = 10,
	KIND_THROTTLE = 12,
	KIND_COUNT = 13,
};

/* Record flags. */
enum record_flag {
	FLAG_ARGV_TRUNCATED = 1 << 0,     /* argv cut at the capture limit */
	FLAG_PATH_TRUNCATED = 1 << 1,     /* a path cut at its limit or depth */
	FLAG_ARGV_UNREADABLE = 1 << 2,    /* argv memory could not be read */
	FLAG_SIGNAL_GROUP = 1 << 3,       /* signal sent to the whole group */
	FLAG_EXIT_GROUP = 1 << 4,         /* exit code from signal->group_exit_code */
	FLAG_DELIVERED = 1 << 5,          /* signal record is a delivery */
	FLAG_ENV_TRUNCATED = 1 << 6,      /* environment cut at the capture limit */
};

/* Exec facts: u.exec.facts. */
enum exec_fact {
	FACT_SETUID = 1 << 0,  /* set-user-ID file, and it changed the effective uid */
	FACT_SETGID = 1 << 1,  /* set-group-ID file, and it changed the effective gid */
	FACT_ANON = 1 << 2,    /* a file of no mount's tree (memfd and the like) */
	FACT_NOLINK = 1 << 3,  /* the file had no links left (i_nlink == 0) */
};

/* What fd 0 was at exec: u.exec.stdin_type. */
enum stdin_type {
	STDIN_UNKNOWN = 0,
	STDIN_NONE = 1,
	STDIN_TTY = 2,
	STDIN_PIPE = 3,
	STDIN_SOCKET = 4,
	STDIN_FILE = 5,
	STDIN_CHAR_DEVICE = 6,
	STDIN_OTHER = 7,
};

/* Throttle phases: u.throttle.phase. */
enum throttle_phase {
	THROTTLE_START = 1,
	THROTTLE_STOP = 2,
};

/* Capture limits of the tail. */
#define PATH_CAP 4096   /* filename, exe, cwd: bytes including the NUL */
#define INTERP_CAP 256  /* #! interpreter path */
#define ARGV_CAP 16384  /* argv block; must be a power of two */
#define ARG_CAP 4096    /* one argument of a failed exec */
#define NAME_CAP 256    /* one path component */
#define ENV_CAP 8192    /* environment block; must be a power of two */

struct record {
	u8 kind;
	u8 flags;
	u16 _pad0;
	u32 size; /* header + tail */
	u64 boot_ns;
	u32 cpu;
	s32 pid;  /* tgid */
	s32 tid;
	s32 ppid; /* real_parent->tgid */
	s32 nspid;
	u32 uid, euid, gid, egid;
	s32 pgid, sid;
	u32 login_uid; /* audit login uid, 4294967295 when unset */
	u64 start;        /* group_leader->start_boottime */
	u64 parent_start; /* real_parent->group_leader->start_boottime */
	u64 cgroup_id;
	char comm[16];
	char tty[32];
	u32 session_id; /* audit session id, 4294967295 when unset */
	u32 _pad1;
	/* Kind-specific part, 56 bytes. */
	union {
		struct {
			s32 parent_tid;
			u32 _pad;
			u64 clone_flags;
		} fork;
		struct {
			s32 err; /* errno of a failed exec, positive */
			s32 old_tid;
			/* Tail string lengths, each including its NUL; 0 when absent. */
			u16 filename_len, exe_len, cwd_len, interp_len;
			u32 argv_len; /* argv block: NUL-separated arguments */
			u16 env_len;  /* environment block, NUL-separated; follows argv */
			u8 facts;     /* enum exec_fact */
			u8 stdin_type; /* enum stdin_type */
			/* The executable's identity, the key of user space's hash cache. */
			u32 dev;
			u64 ino;
			u64 size;
			u64 mtime_ns;
		} exec;
		struct {
			u32 code; /* raw wait status: (code<<8)|signal|0x80 core */
		} exit;
		struct {
			s32 reaper_pid;
		} reap;
		struct {
			u8 phase;   /* enum throttle_phase */
			u8 _pad[3];
			u32 limit;  /* execs per second reported */
			u64 suppressed; /* stop: execs counted, not reported, since the start */
		} throttle;
		struct {
			s32 signo;
			s32 code;
			s32 sender_pid;
			s32 sender_tid;
			s32 result; /* signal_generate result, TRACE_SIGNAL_* */
			u32 _pad;
			char sender_comm[16];
		} signal;
		u8 _raw[56];
	} u;
};

/* The offsets linux/record.go decodes; bpf2go renders only the first union member. */
#define OFFSET_IS(field, off) _Static_assert(__builtin_offsetof(struct record, field) == (off), #field)
OFFSET_IS(login_uid, 60);
OFFSET_IS(session_id, 136);
OFFSET_IS(u, 144);
OFFSET_IS(u.fork.clone_flags, 144 + 8);
OFFSET_IS(u.exec.err, 144 + 0);
OFFSET_IS(u.exec.old_tid, 144 + 4);
OFFSET_IS(u.exec.filename_len, 144 + 8);
OFFSET_IS(u.exec.exe_len, 144 + 10);
OFFSET_IS(u.exec.cwd_len, 144 + 12);
OFFSET_IS(u.exec.interp_len, 144 + 14);
OFFSET_IS(u.exec.argv_len, 144 + 16);
OFFSET_IS(u.exec.env_len, 144 + 20);
OFFSET_IS(u.exec.facts, 144 + 22);
OFFSET_IS(u.exec.stdin_type, 144 + 23);
OFFSET_IS(u.exec.dev, 144 + 24);
OFFSET_IS(u.exec.ino, 144 + 32);
OFFSET_IS(u.exec.size, 144 + 40);
OFFSET_IS(u.exec.mtime_ns, 144 + 48);
OFFSET_IS(u.exit.code, 144 + 0);
OFFSET_IS(u.reap.reaper_pid, 144 + 0);
OFFSET_IS(u.throttle.phase, 144 + 0);
OFFSET_IS(u.throttle.limit, 144 + 4);
OFFSET_IS(u.throttle.suppressed, 144 + 8);
OFFSET_IS(u.signal.signo, 144 + 0);
OFFSET_IS(u.signal.code, 144 + 4);
OFFSET_IS(u.signal.sender_pid, 144 + 8);
OFFSET_IS(u.signal.sender_tid, 144 + 12);
OFFSET_IS(u.signal.result, 144 + 16);
OFFSET_IS(u.signal.sender_comm, 144 + 24);
_Static_assert(sizeof(struct record) == 200, "record size");

#endif /* PROCOTEL_RECORD_H */
