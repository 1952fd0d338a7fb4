//go:build ignore

/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * procotel.bpf.c watches the process lifecycle and writes one record per
 * event into one ring buffer (record.h). Exec attempts are paired with
 * their results here, in the kernel: sys_enter_execve(at) remembers the
 * caller's filename and argv pointers in task storage, sched_process_exec
 * reports a success, sys_exit_execve(at) with a negative return a failure.
 * Every record the ring buffer cannot take is counted per kind in lost.
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "record.h"

char __license[] SEC("license") = "Dual MIT/GPL";

/* Configuration, set by the loader before load. */
volatile const u32 argv_max = ARGV_CAP; /* argv capture limit, <= ARGV_CAP */
volatile const u32 env_max = 0;         /* environment capture limit, <= ENV_CAP; 0: off */
volatile const u8 signals_all = 0;      /* report SIGCHLD and runtime signals too */
volatile const u8 threads = 0;          /* report thread start and exit */
volatile const u32 self_tgid = 0;       /* procotel itself: its runtime's own signals are not reported */
volatile const u64 wakeup_bytes = 1 << 22; /* wake the reader past this backlog in one ring */
/* The ring each CPU writes to, by CPU number; CPUs from MAX_CPUS on write to ring 0. */
#define MAX_CPUS 1024
volatile const u8 ring_of_cpu[MAX_CPUS] = {};
volatile const u32 exec_rate_limit = 0; /* execs a second per cgroup reported one by one; 0: all */

/*
 * The records go to one of a few ring buffers, chosen by CPU
 * (ring_of_cpu): a ring shared by every CPU costs each record about 150 ns
 * of its state moving between them (docs/storm.md, twelfth sitting). The
 * loader creates the rings (their size is the configured buffer divided
 * among them) and puts them here before anything is attached; user space
 * merges them by time.
 */
struct ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* resized by the loader */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* resized by the loader: one slot per ring */
	__type(key, u32);
	__array(values, struct ring);
} rings SEC(".maps");

/* lost counts records the ring buffer could not take, per kind. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KIND_COUNT);
	__type(key, u32);
	__type(value, u64);
} lost SEC(".maps");

/*
 * throttle_state is the exec rate of one cgroup (exec_rate_limit). The
 * first exec past the limit in a one-second window starts a throttle: a
 * start record, and a timer at the window's end. From then on the
 * cgroup's execs past the limit a second are only counted, in
 * suppressed. Each timer run opens a new window; a run that finds
 * nothing counted since the last one writes the stop record with the
 * count and deletes the state, so the next throttle of the cgroup starts
 * afresh. The stop is written by the timer: a storm that ends gets its
 * stop without another exec. The timer's initialisation, which succeeds
 * once per state, decides which exec writes the start.
 */
struct throttle_state {
	struct bpf_timer timer;
	u64 cgroup_id;
	u64 window_start; /* boot ns */
	u64 count;        /* execs of the window (not atomic: the limit is approximate across CPUs) */
	u64 suppressed;   /* execs counted since the start (atomic) */
	u64 seen;         /* suppressed at the timer's last run */
	u32 throttling;
	u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, u64);
	__type(value, struct throttle_state);
} throttles SEC(".maps");

/* throttled counts the execs counted instead of reported. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} throttled SEC(".maps");

/* task_state is what procotel remembers of a thread between two hooks. */
struct task_state {
	u64 clone_flags; /* flags of the thread's last clone */
	u8 has_clone;    /* clone_flags was set by on_kernel_clone */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_state);
} task_states SEC(".maps");

/*
 * exec_attempt holds the user pointers of an exec in flight, saved at
 * sys_enter_execve(at) and taken at sys_exit_execve(at), keyed by thread
 * id. It is used only where the saved user registers cannot be read at
 * sys_exit_execve (user_args): not on x86-64 and arm64. A map, not task
 * storage: the storage of a new task is allocated at its first exec,
 * which costs more than the exec hook itself; an entry an exec never took
 * back (a thread killed inside execve) is evicted when the map is full.
 */
struct exec_attempt {
	u64 filename;
	u64 argv;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, u32);
	__type(value, struct exec_attempt);
} exec_attempts SEC(".maps");

/* An exec record is built in a per-CPU scratch area and copied out. */
#define TAIL_CAP (3 * PATH_CAP + INTERP_CAP + ARGV_CAP + ENV_CAP)

struct exec_scratch {
	struct record hdr;
	char tail[TAIL_CAP];
};
_Static_assert(sizeof(struct exec_scratch) < 0x10000, "exec_scratch must stay below 64 KiB");

/* path_scratch holds a path while it is assembled from its end. */
struct path_scratch {
	char b[PATH_CAP + NAME_CAP];
};

/*
 * One exec_scratch per CPU, indexed by CPU number: a per-CPU array's
 * values are limited to 32 KiB, which the environment does not fit in.
 * The programs that use it run with migration disabled. The loader sets
 * max_entries to the number of possible CPUs.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct exec_scratch);
} exec_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct path_scratch);
} path_scratch SEC(".maps");

/*
 * wakeup chooses the notification of a submit. Waking the reader costs the
 * producing hook an interrupt (microseconds in a VM), so records are
 * submitted silently and the reader polls; only a backlog past
 * wakeup_bytes wakes it at once.
 */
static __always_inline u64 wakeup(void *rb)
{
	return bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									: BPF_RB_NO_WAKEUP;
}

/* this_ring returns the ring of the current CPU; NULL only if the loader did not fill its slot. */
static __always_inline void *this_ring(void)
{
	u32 cpu = bpf_get_smp_processor_id();
	u32 i = cpu < MAX_CPUS ? ring_of_cpu[cpu] : 0;
	return bpf_map_lookup_elem(&rings, &i);
}

static __always_inline void count_lost(u32 kind)
{
	u64 *n = bpf_map_lookup_elem(&lost, &kind);
	if (n)
		*n += 1;
}

static __always_inline s32 pid_nr(struct pid *pid, u32 level)
{
	s32 nr = 0;
	if (!pid)
		return 0;
	u64 off = bpf_core_field_offset(struct pid, numbers) +
		  (u64)(level & 63) * bpf_core_type_size(struct upid);
	bpf_probe_read_kernel(&nr, sizeof(nr), (void *)pid + off);
	return nr;
}

/*
 * What fill_task writes besides the identity every record carries. Two
 * parts stay as a fork left them, or are filled by user space from the
 * parent's record when they change: the pid in the task's own namespace
 * (fixed at fork) and the parent's start time (an adopter's is its start,
 * which user space has). Records after the fork leave them zero, the
 * pipeline fills them from its table (pipeline/enrich.go), and the exec
 * and exit hooks save the cache lines they are read from.
 */
enum ident_part {
	IDENT_NSPID = 1 << 0,
	IDENT_PARENT_START = 1 << 1,
	IDENT_ALL = IDENT_NSPID | IDENT_PARENT_START,
	IDENT_LATER = 0, /* exec, failed exec, exit */
};

/*
 * fill_task writes the identity of task into the record header, with the
 * parts of enum ident_part asked for (a constant: the rest is compiled
 * out) and zero for the others.
 */
static __always_inline void fill_task(struct record *r, struct task_struct *task, u32 parts)
{
	struct task_struct *leader = task->group_leader;
	struct task_struct *parent = task->real_parent;
	const struct cred *cred = task->real_cred;
	struct signal_struct *sig = task->signal;

	r->boot_ns = bpf_ktime_get_boot_ns();
	r->cpu = bpf_get_smp_processor_id();
	r->pid = task->tgid;
	r->tid = task->pid;
	r->ppid = parent->tgid;
	r->start = leader->start_boottime;
	r->parent_start = parts & IDENT_PARENT_START ? parent->group_leader->start_boottime : 0;
	r->uid = cred->uid.val;
	r->euid = cred->euid.val;
	r->gid = cred->gid.val;
	r->egid = cred->egid.val;

	r->nspid = 0;
	if (parts & IDENT_NSPID) {
		struct pid *tp = leader->thread_pid;
		u32 level = tp ? tp->level : 0;
		/*
		 * The initial namespace (most processes): a plain load. Here, not
		 * in pid_nr: inlined there, the verifier rejects the load that
		 * both branches then share ("same insn cannot be used with
		 * different pointers").
		 */
		r->nspid = !tp ? 0 : level == 0 ? tp->numbers[0].nr : pid_nr(tp, level);
	}
	/* Level 0 (the initial namespace) is a constant index: a plain load. */
	struct pid *pg = sig->pids[PIDTYPE_PGID], *sid = sig->pids[PIDTYPE_SID];
	r->pgid = pg ? pg->numbers[0].nr : 0;
	r->sid = sid ? sid->numbers[0].nr : 0;

	/*
	 * comm and the tty name are copied with plain loads: the kernel pads
	 * comm with NULs, and a tty name longer than the record's field is
	 * cut (the decoder takes a name without a NUL as it is).
	 */
	struct tty_struct *tty = sig->tty;
	if (tty)
		__builtin_memcpy(r->tty, tty->name, sizeof(r->tty));
	else
		__builtin_memset(r->tty, 0, sizeof(r->tty));
	__builtin_memcpy(r->comm, task->comm, sizeof(r->comm));
	r->cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	/* The audit ids exist with CONFIG_AUDITSYSCALL; without, "unset". */
	if (bpf_core_field_exists(task->loginuid)) {
		r->login_uid = task->loginuid.val;
		r->session_id = task->sessionid;
	} else {
		r->login_uid = (u32)-1;
		r->session_id = (u32)-1;
	}
}

/*
 * fill_reaped writes the part of a reaped process's identity that user
 * space needs to know it by, and what it cannot take from the process's
 * exit record: pid and start time, the parent (who reaps it, or whom it
 * was moved to), the credentials (the pipeline does not fill those, since
 * every other record carries them; comm is next to them in the task), and
 * the cgroup (reaps are counted per cgroup beside the execs a cgroup was
 * throttled for). A zombie changes nothing else: the group, terminal,
 * namespace pid and audit ids are those of its exit record, and the
 * pipeline fills them from its table. The task is cold by now
 * (sched_process_free runs after an RCU grace period), so each cache line
 * left unread here is time saved. Its leader is the task itself: only
 * leaders are reported.
 */
static __always_inline void fill_reaped(struct record *r, struct task_struct *task)
{
	const struct cred *cred = task->real_cred;

	r->boot_ns = bpf_ktime_get_boot_ns();
	r->cpu = bpf_get_smp_processor_id();
	r->pid = task->tgid;
	r->tid = task->pid;
	r->ppid = task->real_parent->tgid;
	r->start = task->start_boottime;
	r->parent_start = 0;
	r->uid = cred->uid.val;
	r->euid = cred->euid.val;
	r->gid = cred->gid.val;
	r->egid = cred->egid.val;
	r->nspid = 0;
	r->pgid = 0;
	r->sid = 0;
	r->cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	__builtin_memcpy(r->comm, task->comm, sizeof(r->comm));
	__builtin_memset(r->tty, 0, sizeof(r->tty));
	r->login_uid = (u32)-1;
	r->session_id = (u32)-1;
}

/* RESERVE reserves a header-only record r of kind_, or counts it lost and returns. */
#define RESERVE(kind_)                                                      \
	void *rb = this_ring();                                             \
	struct record *r = rb ? bpf_ringbuf_reserve(rb, sizeof(*r), 0) : 0; \
	if (!r) {                                                           \
		count_lost(kind_);                                          \
		return 0;                                                   \
	}                                                                   \
	__builtin_memset(&r->u, 0, sizeof(r->u));                           \
	r->kind = kind_;                                                    \
	r->flags = 0;                                                       \
	r->_pad0 = 0;                                                       \
	r->_pad1 = 0;                                                       \
	r->size = sizeof(*r);

SEC("fentry/kernel_clone")
int BPF_PROG(on_kernel_clone, struct kernel_clone_args *args)
{
	struct task_state *st = bpf_task_storage_get(&task_states, bpf_get_current_task_btf(), 0,
						     BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (st) {
		st->clone_flags = args->flags;
		st->has_clone = 1;
	}
	return 0;
}

/*
 * derive_clone_flags reconstructs the clone flags of a fork from what the
 * parent and child share, for kernels where fentry on kernel_clone is not
 * available. Flags that leave no trace in the child by the time the
 * tracepoint fires (CLONE_VFORK among them) are not reported.
 */
static __always_inline u64 derive_clone_flags(struct task_struct *parent, struct task_struct *child)
{
	u64 f = 0;
	int sig = child->exit_signal;
	if (sig > 0)
		f |= sig & 0xff;
	if (child->mm == parent->mm)
		f |= CLONE_VM;
	if (child->fs == parent->fs)
		f |= CLONE_FS;
	if (child->files == parent->files)
		f |= CLONE_FILES;
	if (child->sighand == parent->sighand)
		f |= CLONE_SIGHAND;
	if (child->pid != child->tgid)
		f |= CLONE_THREAD;
	struct nsproxy *cn = child->nsproxy, *pn = parent->nsproxy;
	if (cn != pn && cn && pn) {
/* NEW_NS adds flag when the child has a namespace ns of its own. */
#define NEW_NS(ns, flag)          \
	if (cn->ns != pn->ns)     \
		f |= (flag)
		NEW_NS(mnt_ns, CLONE_NEWNS);
		NEW_NS(uts_ns, CLONE_NEWUTS);
		NEW_NS(ipc_ns, CLONE_NEWIPC);
		NEW_NS(net_ns, CLONE_NEWNET);
		NEW_NS(cgroup_ns, CLONE_NEWCGROUP);
		NEW_NS(pid_ns_for_children, CLONE_NEWPID);
#undef NEW_NS
	}
	return f;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	u32 kind = KIND_FORK;
	if (child->pid != child->tgid) {
		if (!threads)
			return 0;
		kind = KIND_THREAD_START;
	}
	RESERVE(kind);
	fill_task(r, child, IDENT_ALL);
	r->u.fork.parent_tid = parent->pid;
	struct task_state *st = bpf_task_storage_get(&task_states, parent, 0, 0);
	r->u.fork.clone_flags = st && st->has_clone ? st->clone_flags : derive_clone_flags(parent, child);
	bpf_ringbuf_submit(r, wakeup(rb));
	return 0;
}

/*
 * regs_known reports whether sys_exit_execve can read the syscall's
 * arguments from the saved user registers (a CO-RE constant).
 */
static __always_inline bool regs_known(void)
{
	return bpf_core_field_exists(struct pt_regs___x86, di) ||
	       bpf_core_field_exists(struct pt_regs___arm64, orig_x0);
}

/*
 * user_args reads the filename and argv pointers of the current execve
 * (at = 0) or execveat (at = 1) from the user registers it saved. A failed
 * exec leaves them as they were, but for the return value.
 */
static __always_inline void user_args(int at, u64 *filename, u64 *argv)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (bpf_core_field_exists(struct pt_regs___x86, di)) {
		struct pt_regs___x86 *x = (void *)regs;
		*filename = at ? BPF_CORE_READ(x, si) : BPF_CORE_READ(x, di);
		*argv = at ? BPF_CORE_READ(x, dx) : BPF_CORE_READ(x, si);
	} else if (bpf_core_field_exists(struct pt_regs___arm64, orig_x0)) {
		struct pt_regs___arm64 *a = (void *)regs;
		*filename = at ? BPF_CORE_READ(a, regs[1]) : BPF_CORE_READ(a, orig_x0);
		*argv = at ? BPF_CORE_READ(a, regs[2]) : BPF_CORE_READ(a, regs[1]);
	}
}

/* remember_exec saves the user pointers of an exec attempt. */
static __always_inline void remember_exec(u64 filename, u64 argv)
{
	if (regs_known())
		return;
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct exec_attempt a = {.filename = filename, .argv = argv};
	bpf_map_update_elem(&exec_attempts, &tid, &a, BPF_ANY);
}

struct enter_execve_ctx {
	u64 common;
	s64 nr;
	u64 filename;
	u64 argv;
	u64 envp;
};

struct enter_execveat_ctx {
	u64 common;
	s64 nr;
	s64 fd;
	u64 filename;
	u64 argv;
	u64 envp;
	s64 flags;
};

struct exit_execve_ctx {
	u64 common;
	s64 nr;
	s64 ret;
};

SEC("tracepoint/syscalls/sys_enter_execve")
int on_enter_execve(struct enter_execve_ctx *ctx)
{
	remember_exec(ctx->filename, ctx->argv);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int on_enter_execveat(struct enter_execveat_ctx *ctx)
{
	remember_exec(ctx->filename, ctx->argv);
	return 0;
}

static __always_inline struct exec_scratch *scratch(void)
{
	u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&exec_scratch, &cpu);
}

/* bpf_rdonly_cast turns an address into a read-only typed pointer (6.2). */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* walk_ctx is the state of a path walk between two bpf_loop steps. */
struct walk_ctx {
	u64 d;        /* struct dentry * of the next component */
	u64 mnt_root; /* struct dentry * the mount's root */
	u64 mnt;      /* struct mount * */
	u32 off;      /* the path so far starts at path_scratch.b[off] */
	u8 done;      /* reached the root */
	u8 name_only; /* a file of no mount's tree (memfd): its name is its path */
};

#define AS(type, addr) ((struct type *)bpf_rdonly_cast((void *)(addr), bpf_core_type_id_kernel(struct type)))

/*
 * copy_short_name copies the name of d, of len bytes, to dst with plain
 * loads when it is the short name kept inside the dentry, and reports
 * whether it did: most path components are, and the loads cost less
 * than a helper call per component. The name is copied a word at
 * a time and its last bytes one by one, so that nothing past dst + len is
 * written (the path is assembled from its end: that is its next
 * component).
 */
static __always_inline bool copy_short_name(char *dst, struct dentry *d, const unsigned char *name,
					    u32 len)
{
	if (!bpf_core_field_exists(struct dentry___sn, d_shortname))
		return false;
	struct dentry___sn *sn = (void *)d;
	if ((u64)name != (u64)d + bpf_core_field_offset(struct dentry___sn, d_shortname) || len > 39)
		return false;
	u32 k;
#pragma unroll
	for (k = 0; k < 5; k++) {
		if (8 * k >= len)
			break;
		u64 w = sn->d_shortname.words[k];
		if (8 * k + 8 <= len) {
			*(u64 *)(dst + 8 * k) = w;
			continue;
		}
		u32 j;
#pragma unroll
		for (j = 0; j < 7; j++) {
			if (8 * k + j >= len)
				break;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			dst[8 * k + j] = w >> (8 * j);
#else
			dst[8 * k + j] = w >> (56 - 8 * j);
#endif
		}
		break;
	}
	return true;
}

/*
 * walk_step prepends one path component, or crosses one mount point. It
 * reads dentries and mounts through BTF pointers (plain loads the verifier
 * guards, no helper call); only the component's name is copied by a helper.
 */
static long walk_step(u64 i, struct walk_ctx *c)
{
	u32 zero = 0;
	struct path_scratch *ps = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!ps || !c->d || !c->mnt)
		return 1;
	struct dentry *d = AS(dentry, c->d);
	struct dentry *parent = d->d_parent;
	if (!c->name_only && (c->d == c->mnt_root || d == parent)) {
		struct mount *mnt = AS(mount, c->mnt);
		struct mount *mp = mnt->mnt_parent;
		if (!mp || (u64)mp == c->mnt) {
			c->done = 1;
			return 1;
		}
		c->d = (u64)mnt->mnt_mountpoint;
		c->mnt = (u64)mp;
		c->mnt_root = (u64)mp->mnt.mnt_root;
		return 0;
	}
	u32 len = d->d_name.len;
	const unsigned char *name = d->d_name.name;
	u32 off = c->off;
	if (len > NAME_CAP - 1 || off > PATH_CAP - 1 || len + 1 > off)
		return 1;
	off -= len + 1;
	off &= PATH_CAP - 1;
	len &= NAME_CAP - 1;
	if (!copy_short_name(&ps->b[off + 1], d, name, len))
		bpf_probe_read_kernel(&ps->b[off + 1], len, name);
	ps->b[off] = '/';
	c->off = off;
	if (c->name_only) {
		c->done = 1;
		return 1;
	}
	c->d = (u64)parent;
	return 0;
}

/*
 * anon_file reports whether (vfsmnt, d) is a file of no mount's tree, such
 * as a memfd: its dentry is its own parent but not a mount's root, and it
 * names itself through d_dname.
 */
static __always_inline bool anon_file(struct vfsmount *vfsmnt, struct dentry *d)
{
	if (d->d_parent != d || d == vfsmnt->mnt_root)
		return false;
	const struct dentry_operations *ops = d->d_op;
	return ops && ops->d_dname;
}

/* DELETED is what d_path appends to the path of an unlinked file. */
#define DELETED " (deleted)"

/*
 * walk_path writes the path of (mnt, dentry) into the record tail at pos and
 * returns the bytes written, including the NUL. It follows dentry parents
 * and mount points up to the root of the mount namespace, and writes what
 * d_path (and so /proc/PID/exe) shows:
 *  - a file of no mount's tree, such as a memfd (its dentry is its own
 *    parent but not a mount's root, and names itself through d_dname), is
 *    "/NAME (deleted)": "/memfd:NAME (deleted)";
 *  - an unlinked file (its dentry unhashed) ends in " (deleted)".
 */
static __always_inline u32 walk_path(struct exec_scratch *s, u32 pos, struct vfsmount *vfsmnt,
				     struct dentry *d, u8 *flags)
{
	u32 zero = 0;
	struct path_scratch *ps = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!ps || !vfsmnt || !d)
		return 0;
	struct dentry *mnt_root = vfsmnt->mnt_root;
	bool own_root = d->d_parent == d, name_only = anon_file(vfsmnt, d), deleted;
	deleted = name_only || (!own_root && !d->d_hash.pprev);
	u32 end = PATH_CAP - 1; /* the path is written before b[end] */
	if (deleted) {
		end -= sizeof(DELETED) - 1;
		__builtin_memcpy(&ps->b[end], DELETED, sizeof(DELETED) - 1);
	}
	ps->b[PATH_CAP - 1] = 0;
	struct walk_ctx c = {
		.d = (u64)d,
		.mnt_root = (u64)mnt_root,
		.mnt = (u64)vfsmnt - bpf_core_field_offset(struct mount, mnt),
		.off = end,
		.name_only = name_only,
	};
	bpf_loop(64, walk_step, &c, 0);
	u8 done = c.done;
	u32 off = c.off;
	if (!done)
		*flags |= FLAG_PATH_TRUNCATED;
	if (off >= end) {
		off = end - 1;
		ps->b[off & (PATH_CAP - 1)] = '/';
	}
	off &= PATH_CAP - 1;
	u32 n = PATH_CAP - off;
	if (pos > 2 * PATH_CAP)
		return 0;
	barrier_var(pos);
	n &= 2 * PATH_CAP - 1;
	if (n < 1 || n > PATH_CAP)
		return 0;
	bpf_probe_read_kernel(&s->tail[pos], n, &ps->b[off]);
	return n;
}

static __always_inline void output(struct exec_scratch *s, u32 kind, u32 tail)
{
	void *rb = this_ring();
	if (!rb) {
		count_lost(kind);
		return;
	}
	u64 flags = wakeup(rb);
	u64 size = sizeof(struct record) + (u64)tail;
	if (size > sizeof(*s))
		size = sizeof(*s);
	s->hdr.size = size;
	barrier_var(size);
	size &= 0xffff; /* sizeof(*s) < 64 KiB: a no-op the verifier can see */
	if (size > sizeof(*s))
		return;
	if (bpf_ringbuf_output(rb, s, size, flags))
		count_lost(kind);
}

static __always_inline void clear_record(struct record *r, u32 kind)
{
	__builtin_memset(&r->u, 0, sizeof(r->u));
	r->kind = kind;
	r->flags = 0;
	r->_pad0 = 0;
	r->_pad1 = 0;
}

/*
 * exec_record starts a record of kind about task in this CPU's exec
 * scratch (exec records carry a path and argv, too large for the stack);
 * NULL when the scratch map has no slot for this CPU.
 */
static __always_inline struct exec_scratch *exec_record(u32 kind, struct task_struct *task)
{
	struct exec_scratch *s = scratch();
	if (s) {
		clear_record(&s->hdr, kind);
		fill_task(&s->hdr, task, IDENT_LATER);
	}
	return s;
}

#define NSEC_PER_SEC 1000000000ULL
#define CLOCK_MONOTONIC 1

/* throttle_record writes a throttle record of cgroup cg. */
static __always_inline void throttle_record(u64 cg, u8 phase, u64 suppressed)
{
	void *rb = this_ring();
	struct record *r = rb ? bpf_ringbuf_reserve(rb, sizeof(*r), 0) : 0;
	if (!r) {
		count_lost(KIND_THROTTLE);
		return;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->kind = KIND_THROTTLE;
	r->size = sizeof(*r);
	r->boot_ns = bpf_ktime_get_boot_ns();
	r->cpu = bpf_get_smp_processor_id();
	r->cgroup_id = cg;
	r->login_uid = (u32)-1;
	r->session_id = (u32)-1;
	r->u.throttle.phase = phase;
	r->u.throttle.limit = exec_rate_limit;
	r->u.throttle.suppressed = suppressed;
	bpf_ringbuf_submit(r, wakeup(rb));
}

/* throttle_tick ends a throttle's window (see struct throttle_state). */
static int throttle_tick(void *map, u64 *key, struct throttle_state *t)
{
	u64 cur = t->suppressed;
	t->count = 0;
	t->window_start = bpf_ktime_get_boot_ns();
	if (cur != t->seen) {
		t->seen = cur;
		bpf_timer_start(&t->timer, NSEC_PER_SEC, 0);
		return 0;
	}
	throttle_record(t->cgroup_id, THROTTLE_STOP, cur);
	bpf_map_delete_elem(map, key);
	return 0;
}

/*
 * throttle reports whether the exec of cgroup cg is past the cgroup's
 * rate, and counts it then.
 */
static __always_inline bool throttle(u64 cg)
{
	u64 now = bpf_ktime_get_boot_ns();
	struct throttle_state *t = bpf_map_lookup_elem(&throttles, &cg);
	if (!t) {
		struct throttle_state fresh = {.cgroup_id = cg, .window_start = now};
		bpf_map_update_elem(&throttles, &cg, &fresh, BPF_NOEXIST);
		t = bpf_map_lookup_elem(&throttles, &cg);
		if (!t)
			return false;
	}
	if (!t->throttling && now - t->window_start >= NSEC_PER_SEC) {
		t->window_start = now;
		t->count = 0;
	}
	u64 c = t->count + 1;
	t->count = c;
	if (c <= exec_rate_limit)
		return false;
	__sync_fetch_and_add(&t->suppressed, 1);
	u32 zero = 0;
	u64 *n = bpf_map_lookup_elem(&throttled, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	if (!t->throttling && !bpf_timer_init(&t->timer, &throttles, CLOCK_MONOTONIC)) {
		t->throttling = 1;
		throttle_record(cg, THROTTLE_START, 0);
		bpf_timer_set_callback(&t->timer, throttle_tick);
		u64 left = t->window_start + NSEC_PER_SEC - now;
		if (left > NSEC_PER_SEC)
			left = NSEC_PER_SEC;
		bpf_timer_start(&t->timer, left, 0);
	}
	return true;
}

/* stdin_of reports what fd 0 of task is. */
static __always_inline u8 stdin_of(struct task_struct *task)
{
	struct files_struct *files = task->files;
	if (!files)
		return STDIN_UNKNOWN;
	struct fdtable *fdt = files->fdt;
	u64 f = 0;
	if (!fdt || bpf_probe_read_kernel(&f, sizeof(f), fdt->fd))
		return STDIN_UNKNOWN;
	if (!f)
		return STDIN_NONE;
	struct inode *inode = AS(file, f)->f_inode;
	if (!inode)
		return STDIN_UNKNOWN;
	switch (inode->i_mode & S_IFMT) {
	case S_IFIFO:
		return STDIN_PIPE;
	case S_IFSOCK:
		return STDIN_SOCKET;
	case S_IFREG:
		return STDIN_FILE;
	case S_IFCHR: {
		/* Terminals: ttys and consoles (majors 4 and 5), pseudo-terminals (136-143). */
		u32 major = inode->i_rdev >> 20;
		if (major == 4 || major == 5 || (major >= 136 && major <= 143))
			return STDIN_TTY;
		return STDIN_CHAR_DEVICE;
	}
	}
	return STDIN_OTHER;
}

/*
 * exec_facts fills the executable's identity and what its exec did. The
 * old credentials are gone at sched_process_exec (commit_creds replaced
 * them), so a set-id exec is judged from the new ones: the file has the
 * bit, the effective id is now the file's owner, and it differs from the
 * real id (which exec never changes). Nothing is flagged when root runs a
 * set-user-ID-root file, or when the mount is nosuid.
 */
static __always_inline void exec_facts(struct record *r, struct file *file)
{
	struct inode *inode = file->f_inode;
	if (!inode)
		return;
	u16 mode = inode->i_mode;
	u8 facts = 0;
	if ((mode & S_ISUID) && r->euid == inode->i_uid.val && r->euid != r->uid)
		facts |= FACT_SETUID;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) && r->egid == inode->i_gid.val &&
	    r->egid != r->gid)
		facts |= FACT_SETGID;
	if (anon_file(file->f_path.mnt, file->f_path.dentry))
		facts |= FACT_ANON;
	if (inode->i_nlink == 0)
		facts |= FACT_NOLINK;
	r->u.exec.facts = facts;
	r->u.exec.dev = inode->i_sb->s_dev;
	r->u.exec.ino = inode->i_ino;
	r->u.exec.size = inode->i_size;
	if (bpf_core_field_exists(inode->i_mtime_sec))
		r->u.exec.mtime_ns = (u64)inode->i_mtime_sec * 1000000000ULL + inode->i_mtime_nsec;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, int old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	/*
	 * sys_exit_execve takes back the attempt of the thread that called
	 * execve; when a non-leader thread exec'd, it now has the leader's
	 * id and its attempt, under its old id, is dropped here.
	 */
	if (!regs_known() && old_pid != p->pid) {
		u32 tid = old_pid;
		bpf_map_delete_elem(&exec_attempts, &tid);
	}
	if (exec_rate_limit && throttle(task->cgroups->dfl_cgrp->kn->id))
		return 0;

	struct exec_scratch *s = exec_record(KIND_EXEC, task);
	if (!s)
		return 0;
	struct record *r = &s->hdr;
	if (old_pid != p->pid)
		r->u.exec.old_tid = old_pid;

	u32 pos = 0;
	long n = bpf_probe_read_kernel_str(&s->tail[0], PATH_CAP, bprm->filename);
	if (n < 0)
		n = 0;
	if (n > PATH_CAP)
		n = PATH_CAP;
	r->u.exec.filename_len = n;
	pos = n;

	struct file *file = bprm->file;
	exec_facts(r, file);
	r->u.exec.stdin_type = stdin_of(task);
	u32 m = walk_path(s, pos, file->f_path.mnt, file->f_path.dentry, &r->flags);
	r->u.exec.exe_len = m;
	pos += m;

	struct fs_struct *fs = task->fs;
	m = walk_path(s, pos, fs->pwd.mnt, fs->pwd.dentry, &r->flags);
	r->u.exec.cwd_len = m;
	pos += m;

	const char *interp = bprm->interp;
	if (interp && interp != bprm->filename) {
		if (pos > 3 * PATH_CAP)
			pos = 3 * PATH_CAP;
		barrier_var(pos);
		n = bpf_probe_read_kernel_str(&s->tail[pos], INTERP_CAP, interp);
		if (n < 0)
			n = 0;
		if (n > INTERP_CAP)
			n = INTERP_CAP;
		r->u.exec.interp_len = n;
		pos += n;
	}

	struct mm_struct *mm = task->mm;
	u64 start = mm->arg_start, end = mm->arg_end;
	u64 len = end > start ? end - start : 0;
	u32 limit = argv_max;
	if (limit > ARGV_CAP)
		limit = ARGV_CAP;
	if (len > limit) {
		len = limit;
		r->flags |= FLAG_ARGV_TRUNCATED;
	}
	if (pos > 3 * PATH_CAP + INTERP_CAP)
		pos = 3 * PATH_CAP + INTERP_CAP;
	barrier_var(pos);
	barrier_var(len);
	if (len > 0 && len <= ARGV_CAP) {
		if (bpf_probe_read_user(&s->tail[pos], len, (void *)start)) {
			r->flags |= FLAG_ARGV_UNREADABLE;
			len = 0;
		}
		r->u.exec.argv_len = len;
		pos += len;
	}

	/* The new image's environment, for user space to pick variables from. */
	start = mm->env_start;
	end = mm->env_end;
	len = end > start ? end - start : 0;
	limit = env_max;
	if (limit > ENV_CAP)
		limit = ENV_CAP;
	if (len > limit) {
		len = limit;
		r->flags |= FLAG_ENV_TRUNCATED;
	}
	if (pos > 3 * PATH_CAP + INTERP_CAP + ARGV_CAP)
		pos = 3 * PATH_CAP + INTERP_CAP + ARGV_CAP;
	barrier_var(pos);
	barrier_var(len);
	if (len > 0 && len <= ENV_CAP) {
		if (!bpf_probe_read_user(&s->tail[pos], len, (void *)start)) {
			r->u.exec.env_len = len;
			pos += len;
		}
	}
	output(s, KIND_EXEC, pos);
	return 0;
}

/* argv_ctx is the state of copying a failed exec's argv. */
struct argv_ctx {
	u64 argv;  /* user pointer to the argument pointers */
	u32 pos;   /* where the argv block starts in the tail */
	u32 used;  /* bytes copied so far */
	u32 limit; /* capture limit */
	u8 flags;
	u8 done;
};

/* argv_step copies argument i of a failed exec. */
static long argv_step(u64 i, struct argv_ctx *c)
{
	struct exec_scratch *s = scratch();
	if (!s)
		return 1;
	u64 arg = 0;
	if (bpf_probe_read_user(&arg, sizeof(arg), (void *)(c->argv + i * 8)) || !arg) {
		c->done = 1;
		return 1;
	}
	u32 used = c->used;
	if (used >= c->limit) {
		c->flags |= FLAG_ARGV_TRUNCATED;
		return 1;
	}
	u64 room = (u64)c->limit - used;
	if (room > ARG_CAP - 1)
		room = ARG_CAP - 1;
	barrier_var(room);
	room &= ARG_CAP - 1;
	if (room == 0)
		return 1;
	u64 at = (c->pos & (2 * PATH_CAP - 1)) + (used & (ARGV_CAP - 1));
	long n = bpf_probe_read_user_str(&s->tail[at], room, (void *)arg);
	if (n <= 0) {
		c->flags |= FLAG_ARGV_UNREADABLE;
		return 1;
	}
	c->used = used + n;
	if (n == room) {
		/* Cut: the argument filled what was left. */
		c->flags |= FLAG_ARGV_TRUNCATED;
		return 1;
	}
	return 0;
}

/* read_user_argv copies the argv of a failed exec, one argument at a time. */
static __always_inline u32 read_user_argv(u32 pos, u64 argv, u8 *flags)
{
	u32 limit = argv_max;
	if (limit > ARGV_CAP)
		limit = ARGV_CAP;
	struct argv_ctx c = {.argv = argv, .pos = pos, .limit = limit};
	if (!argv)
		return 0;
	bpf_loop(1024, argv_step, &c, 0);
	if (!c.done)
		c.flags |= FLAG_ARGV_TRUNCATED;
	*flags |= c.flags;
	return c.used;
}

static __always_inline int exit_exec(long ret, int execveat)
{
	u64 filename = 0, argv = 0;
	if (regs_known()) {
		if (ret >= 0)
			return 0;
		user_args(execveat, &filename, &argv);
	} else {
		u32 tid = (u32)bpf_get_current_pid_tgid();
		struct exec_attempt *at = bpf_map_lookup_elem(&exec_attempts, &tid);
		if (!at)
			return 0;
		filename = at->filename;
		argv = at->argv;
		bpf_map_delete_elem(&exec_attempts, &tid);
		if (ret >= 0)
			return 0;
	}

	struct task_struct *task = bpf_get_current_task_btf();
	struct exec_scratch *s = exec_record(KIND_EXEC_FAILED, task);
	if (!s)
		return 0;
	struct record *r = &s->hdr;
	r->u.exec.err = -ret;

	long n = bpf_probe_read_user_str(&s->tail[0], PATH_CAP, (void *)filename);
	if (n < 0)
		n = 0;
	if (n > PATH_CAP)
		n = PATH_CAP;
	r->u.exec.filename_len = n;
	u32 pos = n;
	u32 a = read_user_argv(pos, argv, &r->flags);
	r->u.exec.argv_len = a;
	pos += a;
	output(s, KIND_EXEC_FAILED, pos);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int on_exit_execve(struct exit_execve_ctx *ctx)
{
	return exit_exec(ctx->ret, 0);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int on_exit_execveat(struct exit_execve_ctx *ctx)
{
	return exit_exec(ctx->ret, 1);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p, bool group_dead)
{
	u32 kind = KIND_EXIT;
	if (!group_dead) {
		if (!threads)
			return 0;
		kind = KIND_THREAD_EXIT;
	}
	RESERVE(kind);
	fill_task(r, p, IDENT_LATER);
	struct signal_struct *sig = p->signal;
	if (kind == KIND_EXIT && (sig->flags & SIGNAL_GROUP_EXIT)) {
		r->u.exit.code = sig->group_exit_code;
		r->flags |= FLAG_EXIT_GROUP;
	} else {
		r->u.exit.code = p->exit_code;
	}
	bpf_ringbuf_submit(r, wakeup(rb));
	return 0;
}

static __always_inline int reap(struct task_struct *p)
{
	if (p->pid != p->tgid)
		return 0;
	RESERVE(KIND_REAP);
	fill_reaped(r, p);
	struct task_struct *cur = bpf_get_current_task_btf();
	r->u.reap.reaper_pid = cur->tgid == p->tgid ? 0 : cur->tgid;
	bpf_ringbuf_submit(r, wakeup(rb));
	return 0;
}

SEC("fentry/release_task")
int BPF_PROG(on_release_task, struct task_struct *p)
{
	return reap(p);
}

SEC("tp_btf/sched_process_free")
int BPF_PROG(on_process_free, struct task_struct *p)
{
	if (p->pid != p->tgid)
		return 0;
	RESERVE(KIND_REAP);
	fill_reaped(r, p);
	r->u.reap.reaper_pid = -1; /* unknown */
	bpf_ringbuf_submit(r, wakeup(rb));
	return 0;
}

static __always_inline void fill_sender(struct record *r, struct kernel_siginfo *info, int sig)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	r->u.signal.signo = sig;
	r->u.signal.sender_pid = cur->tgid;
	r->u.signal.sender_tid = cur->pid;
	bpf_probe_read_kernel_str(r->u.signal.sender_comm, sizeof(r->u.signal.sender_comm), cur->comm);
	/* SEND_SIG_NOINFO (0) is SI_USER, SEND_SIG_PRIV (1) is SI_KERNEL. */
	if ((unsigned long)info == 0)
		r->u.signal.code = 0;
	else if ((unsigned long)info == 1)
		r->u.signal.code = 0x80;
	else
		r->u.signal.code = BPF_CORE_READ(info, si_code);
}

/*
 * runtime_signal reports whether sig is one a process's runtime sends its
 * own threads to run itself rather than an event of its life: SIGURG (Go
 * preempts goroutines with it, thousands a second under load), SIGPROF
 * and SIGVTALRM (CPU-time interval timers: profilers, runtime tickers),
 * and glibc's internal SIGCANCEL and SIGSETXID. Unless signals_all, these
 * are left out when the process sends them to itself; sent by another
 * process (kill -URG) they are reported.
 *
 * Self-directed signals in general are not left out: a fault (SIGSEGV,
 * SIGBUS, SIGFPE, SIGILL, SIGTRAP), abort()'s SIGABRT, SIGPIPE, SIGXCPU and
 * raise() are all sent by the process to itself, and they are what
 * explains how a process died.
 */
static __always_inline bool runtime_signal(int sig)
{
	return sig == SIGURG || sig == SIGPROF || sig == SIGVTALRM || sig == SIGCANCEL || sig == SIGSETXID;
}

SEC("tp_btf/signal_generate")
int BPF_PROG(on_signal_generate, int sig, struct kernel_siginfo *info, struct task_struct *task,
	     int group, int result)
{
	/* Every exit sends its parent a SIGCHLD: out first, before any call. */
	if (!signals_all && sig == SIGCHLD)
		return 0;
	u32 sender = bpf_get_current_pid_tgid() >> 32;
	if (!signals_all && runtime_signal(sig) && sender == task->tgid)
		return 0;
	/* procotel's own Go runtime signals itself (SIGURG preemption, ...):
	 * that is the observer, not the observed. */
	if (self_tgid && task->tgid == self_tgid && sender == self_tgid)
		return 0;
	RESERVE(KIND_SIGNAL);
	fill_task(r, task, IDENT_ALL);
	fill_sender(r, info, sig);
	r->u.signal.result = result;
	if (group)
		r->flags |= FLAG_SIGNAL_GROUP;
	bpf_ringbuf_submit(r, wakeup(rb));
	return 0;
}

/*
 * self_sent reports whether a delivered signal came from the receiving
 * process tgid itself: sent by one of its threads, or by one of its own
 * timers (timer_create timers, and the CPU-time interval timers behind
 * SIGPROF and SIGVTALRM).
 */
static __always_inline bool self_sent(struct kernel_siginfo *info, int sig, int tgid)
{
	int code = BPF_CORE_READ(info, si_code);
	if (code == SI_TIMER || (code == SI_KERNEL && (sig == SIGPROF || sig == SIGVTALRM)))
		return true;
	if (code != SI_USER && code != SI_TKILL && code != SI_QUEUE)
		return false;
	return BPF_CORE_READ(info, _sifields._kill._pid) == tgid;
}

SEC("tp_btf/signal_deliver")
int BPF_PROG(on_signal_deliver, int sig, struct kernel_siginfo *info, struct k_sigaction *ka)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	if (!signals_all && (sig == SIGCHLD || (runtime_signal(sig) && self_sent(info, sig, cur->tgid))))
		return 0;
	if (sig == SIGURG && self_tgid && cur->tgid == self_tgid)
		return 0; /* the Go runtime's preemption of procotel itself */
	RESERVE(KIND_SIGNAL);
	fill_task(r, cur, IDENT_ALL);
	fill_sender(r, info, sig);
	/* The sender of a delivered signal is not known here. */
	r->u.signal.sender_pid = 0;
	r->u.signal.sender_tid = 0;
	r->u.signal.sender_comm[0] = 0;
	r->flags |= FLAG_DELIVERED;
	bpf_ringbuf_submit(r, wakeup(rb));
	return 0;
}
