package collector

import "sync"

// registry holds the receiver instances of one factory, keyed by their
// configuration: the Collector passes the same *Config when it creates
// the logs and the traces receiver of one component, so both get one
// instance and one backend. An instance leaves the registry when it shuts
// down, so a later configuration (a reload) gets a fresh one.
type registry struct {
	mu        sync.Mutex
	instances map[*Config]*procotelReceiver
}

func newRegistry() *registry {
	return &registry{instances: map[*Config]*procotelReceiver{}}
}

// loadOrStore returns the instance of cfg, making it with create when
// there is none.
func (g *registry) loadOrStore(cfg *Config, create func() *procotelReceiver) *procotelReceiver {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r, ok := g.instances[cfg]; ok {
		return r
	}
	r := create()
	g.instances[cfg] = r
	return r
}

// remove forgets r, if it is still the instance of cfg.
func (g *registry) remove(cfg *Config, r *procotelReceiver) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.instances[cfg] == r {
		delete(g.instances, cfg)
	}
}
