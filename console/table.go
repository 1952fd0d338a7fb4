package console

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/procotel/procotel/pipeline"
	"github.com/procotel/procotel/semconv"
	"github.com/procotel/procotel/terminal"
)

// This file holds the views of the process table: ps, tree, show,
// containers and jails.

// maxLineage bounds the ancestors show walks, against a cycle in a
// damaged table.
const maxLineage = 64

// startWall returns the wall-clock creation time of p, zero if unknown.
func (c *Console) startWall(p *semconv.Process) time.Time {
	if p.Start == 0 || c.caps.Clock.BootWall.IsZero() {
		return time.Time{}
	}
	return c.caps.Clock.Wall(p.Start)
}

// age formats how long ago t was, compactly ("4m05s"); "?" when unknown.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return compactDuration(now.Sub(t))
}

func compactDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return fmt.Sprintf("%dd%02dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
}

// rawName is the process's executable base name, or its kernel name, as
// the process set it; name is what may be printed.
func rawName(p *semconv.Process) string {
	if p.Exe != "" {
		return path.Base(p.Exe)
	}
	if p.Comm != "" {
		return p.Comm
	}
	return "?"
}

// name is rawName escaped for the terminal (terminal.Escape).
func name(p *semconv.Process) string { return terminal.Escape(rawName(p)) }

// args returns argv[1:] joined, each quoted where a shell would need
// quotes or a terminal would act on it (terminal.QuoteArg).
func args(argv []string) string {
	var b []byte
	for i, a := range argv {
		if i == 0 {
			continue
		}
		if i > 1 {
			b = append(b, ' ')
		}
		b = terminal.AppendQuotedArg(b, a)
	}
	return string(b)
}

// where names the container or jail of p, "" on the host.
func where(p *semconv.Process) string {
	switch {
	case p.ContainerID != "":
		if p.ContainerName != "" {
			return "container " + terminal.Escape(p.ContainerName)
		}
		return "container " + terminal.Escape(shortID(p.ContainerID))
	case p.JailID != 0:
		if p.JailName != "" {
			return "jail " + terminal.Escape(p.JailName)
		}
		return "jail " + strconv.Itoa(int(p.JailID))
	}
	return ""
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// clip cuts s to n characters.
func clip(s string, n int) string {
	if n <= 1 {
		return ""
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func (c *Console) ps(_ context.Context, in input) {
	f, ok := c.parseFilter(in.line, in.off)
	if !ok {
		return
	}
	procs := c.opts.Pipeline.Snapshot()
	now := time.Now()
	w := width(c.out)
	c.printf("%7s %7s %6s %8s  %-16s %s\n", "PID", "PPID", "UID", "AGE", "NAME", "COMMAND")
	shown := 0
	for i := range procs {
		p := &procs[i]
		if f != nil && !f.Match(&semconv.Event{Kind: semconv.KindExec, OS: c.caps.OS, Process: *p}, c.opts.Pipeline) {
			continue
		}
		shown++
		rest := args(p.Argv)
		if wh := where(p); wh != "" {
			rest = "[" + wh + "] " + rest
		}
		c.printf("%7d %7d %6d %8s  %-16s %s\n", p.PID, p.PPID, p.UID,
			age(now, c.startWall(p)), clip(name(p), 16), clip(rest, w-50))
	}
	c.printf("%d of %d live processes\n", shown, len(procs))
}

func (c *Console) tree(_ context.Context, in input) {
	a := in.fields()
	var pid int32
	if len(a) > 1 {
		c.printf("tree: one pid at most (usage: tree [pid])\n")
		return
	}
	if len(a) == 1 {
		var ok bool
		if pid, ok = c.pidArg("tree", a[0]); !ok {
			return
		}
	}
	nodes := c.opts.Pipeline.Tree(pid)
	if len(nodes) == 0 {
		if pid == 0 {
			c.printf("no live processes known\n")
		} else if info, ok := c.opts.Pipeline.Lookup(pid); ok {
			c.printf("pid %d (%s) is not alive: %s; see show %d\n", pid, name(&info.Process), ending(&info), pid)
		} else {
			c.printf("pid %d is not known\n", pid)
		}
		return
	}
	now := time.Now()
	w := width(c.out)
	var draw func(n *pipeline.TreeNode, lead, branch string)
	draw = func(n *pipeline.TreeNode, lead, branch string) {
		p := &n.Process
		line := fmt.Sprintf("%s%s%d %s  (%s)", lead, branch, p.PID, name(p), age(now, c.startWall(p)))
		if a := args(p.Argv); a != "" {
			line += " " + a
		}
		if wh := where(p); wh != "" {
			line += " [" + wh + "]"
		}
		c.printf("%s\n", clip(line, w))
		childLead := lead
		switch branch {
		case "├─ ":
			childLead += "│  "
		case "└─ ":
			childLead += "   "
		}
		for i, k := range n.Children {
			b := "├─ "
			if i == len(n.Children)-1 {
				b = "└─ "
			}
			draw(k, childLead, b)
		}
	}
	for _, n := range nodes {
		draw(n, "", "")
	}
}

// ending says how a process ended, or that it is alive.
func ending(info *pipeline.ProcessInfo) string {
	var s string
	switch {
	case info.Exited && info.Exit.Signal != 0:
		s = "killed by " + semconv.SignalName(info.OS, info.Exit.Signal)
		if info.Exit.CoreDumped {
			s += " (core dumped)"
		}
	case info.Exited:
		s = "exited with code " + strconv.Itoa(int(info.Exit.Code))
	case !info.End.IsZero() || info.Reaped:
		s = "gone (exit not observed)"
	default:
		return "alive"
	}
	if info.Reaped {
		s += ", reaped"
	}
	return s
}

func (c *Console) show(_ context.Context, in input) {
	a := in.fields()
	if len(a) != 1 {
		c.printf("show: give one pid (usage: show <pid>)\n")
		return
	}
	pid, ok := c.pidArg("show", a[0])
	if !ok {
		return
	}
	pipe := c.opts.Pipeline
	info, ok := pipe.Lookup(pid)
	if !ok {
		c.printf("pid %d is not known (not seen since the console started, or evicted from the table)\n", pid)
		return
	}
	p := &info.Process
	now := time.Now()
	kv := func(k, format string, args ...any) {
		c.printf("  %-12s %s\n", k+":", fmt.Sprintf(format, escapeArgs(args)...))
	}
	c.printf("process %d (%s)  key %s\n", p.PID, name(p), p.Key())
	state := ending(&info)
	if info.Seeded {
		state += "; existed before procotel started"
	}
	kv("state", "%s", state)
	start := info.Start
	if start.IsZero() {
		start = c.startWall(p)
	}
	if !start.IsZero() {
		life := "age " + age(now, start)
		if !info.End.IsZero() {
			life = "ended " + info.End.Local().Format("15:04:05.000") + ", lived " + compactDuration(info.End.Sub(start))
		}
		kv("started", "%s (%s)", start.Local().Format("2006-01-02 15:04:05.000"), life)
	}
	if p.Exe != "" {
		kv("exe", "%s", p.Exe)
	}
	kv("argv", "%s", quoteArgv(p.Argv, p.ArgvTruncated))
	if p.Cwd != "" {
		kv("cwd", "%s", p.Cwd)
	}
	kv("comm", "%s", p.Comm)
	kv("creds", "uid %d euid %d gid %d egid %d", p.UID, p.EUID, p.GID, p.EGID)
	if p.LoginUID != 0 || p.AuditSessionID != 0 {
		kv("audit", "login uid %s session %s", p.LoginUID, p.AuditSessionID)
	}
	sess := fmt.Sprintf("sid %d pgid %d", p.SID, p.PGID)
	if p.TTY != "" {
		sess += " tty " + terminal.Escape(p.TTY)
	}
	if p.NSPID != 0 && p.NSPID != p.PID {
		sess += fmt.Sprintf(" (pid %d in its namespace)", p.NSPID)
	}
	kv("session", "%s", sess)
	if p.ContainerID != "" {
		s := terminal.Escape(p.ContainerID)
		if p.ContainerName != "" {
			s += " (" + terminal.Escape(p.ContainerName) + ")"
		}
		if p.ContainerRuntime != "" {
			s += " runtime " + terminal.Escape(p.ContainerRuntime)
		}
		kv("container", "%s", s)
	}
	if p.CgroupPath != "" || p.CgroupID != 0 {
		kv("cgroup", "%s (id %d)", p.CgroupPath, p.CgroupID)
	}
	if p.JailID != 0 {
		s := strconv.Itoa(int(p.JailID))
		if p.JailName != "" {
			s += " (" + terminal.Escape(p.JailName) + ")"
		}
		kv("jail", "%s", s)
	}

	ids := semconv.SpanContextIDs(c.caps.Boot, p, info.Lineage)
	kv("trace id", "%x", ids.TraceID)
	kv("span id", "%x", ids.SpanID)
	if ids.ParentSpanID != ([8]byte{}) {
		remote := ""
		if ids.ParentRemote {
			remote = " (inherited traceparent)"
		}
		kv("parent span", "%x%s", ids.ParentSpanID, remote)
	}
	if ids.HasLink {
		kv("link", "span %x in trace %x", ids.LinkSpanID, ids.LinkTraceID)
	}
	if info.Root.IsZero() || info.Root == p.Key() {
		kv("trace root", "itself")
	} else {
		kv("trace root", "%s", c.describeKey(info.Root))
	}

	kv("lineage", "%s", c.lineage(&info))
	if info.Creator != (semconv.Key{}) && info.Parent != (semconv.Key{}) && info.Creator != info.Parent {
		kv("created by", "%s (re-parented since)", c.describeKey(info.Creator))
	}

	if len(info.Execs) == 0 {
		kv("execs", "none observed")
	} else {
		kv("execs", "%d observed", len(info.Execs))
		for _, x := range info.Execs {
			res := "ok"
			if x.Errno != 0 {
				res = "FAILED " + semconv.ErrnoName(info.OS, x.Errno)
			}
			file := x.Exe
			if file == "" || x.Errno != 0 {
				file = x.Filename
			}
			c.printf("  %12s %s  %s  %s  %s%s\n", "", x.Time.Local().Format("15:04:05.000"), res, file, quoteArgv(x.Argv, false),
				terminal.AppendExecFacts(nil, &x.ExecFacts))
			if x.HTLHash != "" || x.ParentExe != "" || x.Stdin != "" {
				c.printf("  %12s   htlhash %s  parent %s  stdin %s\n", "", x.HTLHash,
					terminal.Escape(x.ParentExe), x.Stdin)
			}
		}
	}
	kids := c.children(&info)
	if len(kids) == 0 {
		kv("children", "none observed (%d forked while observed)", info.Children)
	} else {
		kv("children", "%d known, %d forked while observed", len(kids), info.Children)
		for _, k := range kids {
			c.printf("  %12s %d %s  %s\n", "", k.Process.PID, name(&k.Process), ending(&k))
		}
	}
}

func quoteArgv(argv []string, truncated bool) string {
	if len(argv) == 0 {
		return "(unknown)"
	}
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = strconv.Quote(a)
	}
	s := "[" + strings.Join(parts, " ") + "]"
	if truncated {
		s += " …(truncated)"
	}
	return s
}

// describeKey names the process with key k: "1234 bash", or the key.
func (c *Console) describeKey(k semconv.Key) string {
	if info, ok := c.opts.Pipeline.LookupKey(k); ok {
		return fmt.Sprintf("%d %s", k.PID, name(&info.Process))
	}
	return k.String() + " (not in the table)"
}

// lineage walks from the process up through its parents (the current
// parent, or the creator when the parent is unknown) as far as the table
// knows them: "1237 sleep ← 1236 sh ← 1200 bash ← 1 systemd".
func (c *Console) lineage(info *pipeline.ProcessInfo) string {
	parts := []string{fmt.Sprintf("%d %s", info.Process.PID, name(&info.Process))}
	seen := map[semconv.Key]bool{info.Process.Key(): true}
	cur := *info
	for i := 0; i < maxLineage; i++ {
		next := cur.Parent
		if next.IsZero() {
			next = cur.Creator
		}
		if next.IsZero() {
			next = cur.Process.ParentKey()
		}
		var parent pipeline.ProcessInfo
		ok := false
		if !next.IsZero() {
			parent, ok = c.opts.Pipeline.LookupKey(next)
		} else if ppid := cur.Process.PPID; ppid != 0 {
			// Start unknown: the process that has the pid now, if it is
			// older than its child.
			if cand, found := c.opts.Pipeline.Lookup(ppid); found && cand.Process.Start <= cur.Process.Start {
				parent, ok = cand, true
			} else {
				next = semconv.Key{PID: ppid}
			}
		}
		if !ok {
			if !next.IsZero() {
				parts = append(parts, fmt.Sprintf("%d (not in the table)", next.PID))
			}
			break
		}
		if seen[parent.Process.Key()] {
			break
		}
		seen[parent.Process.Key()] = true
		parts = append(parts, fmt.Sprintf("%d %s", parent.Process.PID, name(&parent.Process)))
		cur = parent
	}
	return strings.Join(parts, " ← ")
}

// children returns what the table knows of the process's children: the
// live ones, and those whose fork is still in the console's memory of
// recent events.
func (c *Console) children(info *pipeline.ProcessInfo) []pipeline.ProcessInfo {
	self := info.Process.Key()
	keys := map[semconv.Key]bool{}
	for _, n := range c.opts.Pipeline.Tree(info.Process.PID) {
		if n.Process.Key() != self {
			continue
		}
		for _, k := range n.Children {
			keys[k.Process.Key()] = true
		}
	}
	for _, st := range c.opts.Sink.recent() {
		e := &st.ev
		if e.Kind != semconv.KindFork {
			continue
		}
		if e.Process.PPID == self.PID && (e.Process.ParentStart == 0 || e.Process.ParentKey() == self) ||
			e.Creator == self {
			keys[e.Process.Key()] = true
		}
	}
	var out []pipeline.ProcessInfo
	for k := range keys {
		if ki, ok := c.opts.Pipeline.LookupKey(k); ok {
			out = append(out, ki)
		}
	}
	slices.SortFunc(out, func(a, b pipeline.ProcessInfo) int {
		if a.Process.PID != b.Process.PID {
			return int(a.Process.PID) - int(b.Process.PID)
		}
		return cmp.Compare(a.Process.Start, b.Process.Start)
	})
	return out
}

// groupRow is one container or jail in a listing.
type groupRow struct {
	id, name, extra string
	live            int
	ended           uint64
}

func (c *Console) containers(context.Context, input) {
	live := map[string]*groupRow{}
	host := 0
	for _, p := range c.opts.Pipeline.Snapshot() {
		if p.ContainerID == "" {
			host++
			continue
		}
		r := groupOf(live, p.ContainerID)
		r.live++
		r.name = pickName(p.ContainerName, r.name)
		r.extra = pickName(p.ContainerRuntime, r.extra)
	}
	ended, _ := c.opts.Sink.ended()
	for id, g := range ended {
		r := groupOf(live, id)
		r.ended = g.ended
		r.name = pickName(r.name, g.name)
		r.extra = pickName(r.extra, g.runtime)
	}
	if len(live) == 0 {
		c.noGroups("containers", c.caps.Containers, host)
		return
	}
	c.printGroups("CONTAINER", "RUNTIME", live, host)
}

// groupOf returns the row of id in rows, adding it when new.
func groupOf(rows map[string]*groupRow, id string) *groupRow {
	r := rows[id]
	if r == nil {
		r = &groupRow{id: id}
		rows[id] = r
	}
	return r
}

// noGroups says no container or jail (what) was seen, and why when the
// backend cannot report them.
func (c *Console) noGroups(what string, reported bool, host int) {
	note := ""
	if !reported {
		note = fmt.Sprintf(" (the %s backend does not report %s)", c.opts.Backend.Name(), what)
	}
	c.printf("no %s seen%s; %d live processes on the host\n", what, note, host)
}

func (c *Console) jails(context.Context, input) {
	live := map[string]*groupRow{}
	host := 0
	for _, p := range c.opts.Pipeline.Snapshot() {
		if p.JailID == 0 {
			host++
			continue
		}
		r := groupOf(live, strconv.Itoa(int(p.JailID)))
		r.live++
		r.name = pickName(p.JailName, r.name)
	}
	_, ended := c.opts.Sink.ended()
	for jid, g := range ended {
		r := groupOf(live, strconv.Itoa(int(jid)))
		r.ended = g.ended
		r.name = pickName(r.name, g.name)
	}
	if len(live) == 0 {
		c.noGroups("jails", c.caps.Jails, host)
		return
	}
	c.printGroups("JAIL", "", live, host)
}

func (c *Console) printGroups(idTitle, extraTitle string, rows map[string]*groupRow, host int) {
	list := make([]*groupRow, 0, len(rows))
	for _, r := range rows {
		list = append(list, r)
	}
	slices.SortFunc(list, func(a, b *groupRow) int {
		if a.live != b.live {
			return b.live - a.live
		}
		return strings.Compare(a.id, b.id)
	})
	c.printf("%-14s %-20s %-10s %6s %6s\n", idTitle, "NAME", extraTitle, "LIVE", "ENDED")
	for _, r := range list {
		c.printf("%-14s %-20s %-10s %6d %6d\n", clip(terminal.Escape(shortID(r.id)), 14),
			clip(terminal.Escape(r.name), 20), clip(terminal.Escape(r.extra), 10), r.live, r.ended)
	}
	c.printf("%-14s %-20s %-10s %6d\n", "(host)", "", "", host)
	c.printf("ENDED counts processes that exited while the console ran.\n")
}
