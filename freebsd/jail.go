package freebsd

import (
	"fmt"
	"strconv"
	"sync"
)

// JailLookup returns the name of the jail with the given id.
type JailLookup func(jid int32) (string, error)

// JailIDLookup returns the id of the jail with the given name.
type JailIDLookup func(name string) (int32, error)

// JailNames resolves jail ids to names, caching what it learns. A miss
// asks the lookup again, so jails created after start are found; names seen
// in exec records are cached too. It is safe for concurrent use.
type JailNames struct {
	lookup JailLookup

	mu     sync.Mutex
	names  map[int32]string
	misses uint64
}

// NewJailNames returns a cache over lookup; a nil lookup resolves only the
// names Observe was told.
func NewJailNames(lookup JailLookup) *JailNames {
	return &JailNames{lookup: lookup, names: make(map[int32]string)}
}

// Name returns the name of jail jid: "" for the host (0) and for a jail
// that cannot be found (it may have been removed).
func (j *JailNames) Name(jid int32) string {
	if jid == 0 {
		return ""
	}
	j.mu.Lock()
	name, ok := j.names[jid]
	j.mu.Unlock()
	if ok {
		return name
	}
	if j.lookup == nil {
		return ""
	}
	name, err := j.lookup(jid)
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		j.misses++
		return ""
	}
	j.names[jid] = name
	return name
}

// Observe records that jail jid is named name, as an exec record said.
// A jail id is never reused while the jail exists, but a removed jail's id
// may be given to a new one, so the newest name wins.
func (j *JailNames) Observe(jid int32, name string) {
	if jid == 0 || name == "" {
		return
	}
	j.mu.Lock()
	j.names[jid] = name
	j.mu.Unlock()
}

// Misses returns the number of lookups that failed.
func (j *JailNames) Misses() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.misses
}

// ResolveJails turns jail selectors — numeric ids or names — into jail ids
// for the kernel predicate. "0" and "host" select the host.
func ResolveJails(specs []string, byName JailIDLookup) ([]int32, error) {
	ids := make([]int32, 0, len(specs))
	for _, s := range specs {
		if s == "host" {
			ids = append(ids, 0)
			continue
		}
		if n, err := strconv.ParseInt(s, 10, 32); err == nil {
			if n < 0 {
				return nil, fmt.Errorf("resolve jail %q: negative id", s)
			}
			ids = append(ids, int32(n))
			continue
		}
		if byName == nil {
			return nil, fmt.Errorf("resolve jail %q: names need jail_get(2), only on FreeBSD", s)
		}
		id, err := byName(s)
		if err != nil {
			return nil, fmt.Errorf("resolve jail %q: %w", s, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
