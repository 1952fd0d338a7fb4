/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * kernel.h declares the few kernel types and fields procotel reads. Every
 * struct carries preserve_access_index, so the loader relocates each field
 * against the running kernel's BTF (CO-RE); only the fields used are listed,
 * in any order, and a field's offset here means nothing.
 */
#ifndef PROCOTEL_KERNEL_H
#define PROCOTEL_KERNEL_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __s32 s32;
typedef __u64 u64;
typedef __s64 s64;

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_ARRAY_OF_MAPS = 12,
	BPF_MAP_TYPE_RINGBUF = 27,
	BPF_MAP_TYPE_TASK_STORAGE = 29,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_F_NO_PREALLOC = 1,
	BPF_LOCAL_STORAGE_GET_F_CREATE = 1,
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
	BPF_RB_AVAIL_DATA = 0,
};

/* A BPF timer in a map value (uapi linux/bpf.h). */
struct bpf_timer {
	__u64 __opaque[2];
} __attribute__((aligned(8)));

#define PIDTYPE_PGID 2
#define PIDTYPE_SID 3
#define SIGNAL_GROUP_EXIT 0x00000004
#define SIGCHLD 17
#define SIGURG 23
#define SIGVTALRM 26
#define SIGPROF 27
#define SIGCANCEL 32 /* glibc's, for pthread_cancel */
#define SIGSETXID 33 /* glibc's, to apply set*id() to every thread */
#define SI_USER 0
#define SI_KERNEL 0x80
#define SI_QUEUE -1
#define SI_TIMER -2
#define SI_TKILL -6

#define CLONE_VM 0x00000100
#define CLONE_FS 0x00000200
#define CLONE_FILES 0x00000400
#define CLONE_SIGHAND 0x00000800
#define CLONE_THREAD 0x00010000
#define CLONE_NEWNS 0x00020000
#define CLONE_NEWCGROUP 0x02000000
#define CLONE_NEWUTS 0x04000000
#define CLONE_NEWIPC 0x08000000
#define CLONE_NEWPID 0x20000000
#define CLONE_NEWNET 0x40000000

#define __ctx __attribute__((preserve_access_index))

typedef struct {
	u32 val;
} kuid_t;

typedef struct {
	u32 val;
} kgid_t;

struct cred {
	kuid_t uid;
	kgid_t gid;
	kuid_t euid;
	kgid_t egid;
} __ctx;

/*
 * The user registers a syscall saved, in two flavors: CO-RE keeps the one
 * whose fields the running kernel's struct pt_regs has (x86-64: the
 * arguments in di, si, dx; arm64: x0 is overwritten by the return value
 * and kept in orig_x0).
 */
struct pt_regs___x86 {
	unsigned long di;
	unsigned long si;
	unsigned long dx;
} __ctx;

struct pt_regs___arm64 {
	u64 regs[31];
	u64 orig_x0;
} __ctx;

struct upid {
	int nr;
} __ctx;

struct pid {
	unsigned int level;
	struct upid numbers[1];
} __ctx;

struct tty_struct {
	char name[64];
} __ctx;

struct signal_struct {
	unsigned int flags;
	int group_exit_code;
	struct pid *pids[4];
	struct tty_struct *tty;
} __ctx;

struct qstr {
	u32 len;
	const unsigned char *name;
} __ctx;

struct hlist_bl_node {
	struct hlist_bl_node **pprev;
} __ctx;

struct dentry_operations {
	void *d_dname;
} __ctx;

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
	struct hlist_bl_node d_hash; /* unhashed (pprev NULL): the name was removed */
	const struct dentry_operations *d_op;
} __ctx;

/* Since 6.14 a short name lives in the dentry, as words (DNAME_INLINE_LEN 40). */
struct dentry___sn {
	union {
		unsigned char string[40];
		unsigned long words[5];
	} d_shortname;
} __ctx;

struct vfsmount {
	struct dentry *mnt_root;
} __ctx;

struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
} __ctx;

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} __ctx;

struct super_block {
	u32 s_dev;
} __ctx;

struct inode {
	unsigned short i_mode;
	kuid_t i_uid;
	kgid_t i_gid;
	unsigned int i_nlink;
	u32 i_rdev;
	unsigned long i_ino;
	s64 i_size;
	s64 i_mtime_sec;
	u32 i_mtime_nsec;
	struct super_block *i_sb;
} __ctx;

struct file {
	struct path f_path;
	struct inode *f_inode;
} __ctx;

struct fdtable {
	struct file **fd;
} __ctx;

struct files_struct {
	struct fdtable *fdt;
} __ctx;

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000
#define S_IFCHR 0020000
#define S_IFIFO 0010000
#define S_ISUID 0004000
#define S_ISGID 0002000
#define S_IXGRP 00010

struct fs_struct {
	struct path pwd;
} __ctx;

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
	unsigned long env_start;
	unsigned long env_end;
} __ctx;

struct kernfs_node {
	u64 id;
} __ctx;

struct cgroup {
	struct kernfs_node *kn;
} __ctx;

struct css_set {
	struct cgroup *dfl_cgrp;
} __ctx;

struct nsproxy {
	void *uts_ns;
	void *ipc_ns;
	void *mnt_ns;
	void *pid_ns_for_children;
	void *net_ns;
	void *cgroup_ns;
} __ctx;

struct task_struct {
	int pid;
	int exit_signal;
	struct files_struct *files;
	kuid_t loginuid;
	unsigned int sessionid;
	void *sighand;
	struct nsproxy *nsproxy;
	int tgid;
	int exit_code;
	u64 start_boottime;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct pid *thread_pid;
	const struct cred *real_cred;
	struct signal_struct *signal;
	struct fs_struct *fs;
	struct mm_struct *mm;
	struct css_set *cgroups;
	char comm[16];
} __ctx;

struct linux_binprm {
	struct file *file;
	const char *filename;
	const char *interp;
} __ctx;

struct kernel_siginfo {
	int si_signo;
	int si_errno;
	int si_code;
	union {
		struct {
			int _pid; /* the sender, for SI_USER, SI_TKILL and SI_QUEUE */
		} _kill;
	} _sifields;
} __ctx;

struct k_sigaction;

struct kernel_clone_args {
	u64 flags;
} __ctx;

#endif /* PROCOTEL_KERNEL_H */
