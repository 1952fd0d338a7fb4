package linux

import (
	"io/fs"
	"path/filepath"
	"sync"
	"time"
)

// cgroupResolver maps cgroup v2 ids to paths and containers. A cgroup's id
// is the inode number of its directory in the cgroup2 file system, so the
// resolver walks the hierarchy once, caches what it saw and walks again
// when an unknown id shows up, at most once per rescanEvery. It is safe for
// concurrent use.
type cgroupResolver struct {
	root    string // "/sys/fs/cgroup"
	inodeOf func(fs.DirEntry) (uint64, bool)

	mu       sync.Mutex
	byID     map[uint64]cgroupInfo
	lastScan time.Time
}

type cgroupInfo struct {
	path      string // relative to the root, with a leading "/"
	container Container
}

const rescanEvery = 200 * time.Millisecond

func newCgroupResolver(root string, inodeOf func(fs.DirEntry) (uint64, bool)) *cgroupResolver {
	return &cgroupResolver{root: root, inodeOf: inodeOf, byID: make(map[uint64]cgroupInfo)}
}

// Lookup returns the path and container of cgroup id.
func (r *cgroupResolver) Lookup(id uint64) (cgroupInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.byID[id]; ok {
		return c, true
	}
	if time.Since(r.lastScan) < rescanEvery {
		return cgroupInfo{}, false
	}
	r.scan()
	c, ok := r.byID[id]
	return c, ok
}

// scan walks the hierarchy and records every directory's id. r.mu is held.
func (r *cgroupResolver) scan() {
	r.lastScan = time.Now()
	_ = filepath.WalkDir(r.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil // a cgroup removed while walking: skip it
		}
		id, ok := r.inodeOf(d)
		if !ok {
			return nil
		}
		if _, seen := r.byID[id]; seen {
			return nil
		}
		rel, err := filepath.Rel(r.root, path)
		if err != nil {
			return nil
		}
		p := "/" + filepath.ToSlash(rel)
		if rel == "." {
			p = "/"
		}
		r.byID[id] = cgroupInfo{path: p, container: ParseContainer(p)}
		return nil
	})
}
