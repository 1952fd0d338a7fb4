package collector

import (
	"runtime/debug"

	"github.com/procotel/procotel/agent"
	"github.com/procotel/procotel/semconv"
)

// observer describes this host for the resource of everything the
// receiver emits, as the standalone exporter does.
func observer(osType semconv.OS) semconv.Observer {
	return agent.Observer(osType, procotelVersion())
}

// procotelVersion is the version of the procotel module built into this
// binary, or "" when it was built from a work tree (a replace).
func procotelVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	const module = "github.com/procotel/procotel"
	mods := append([]*debug.Module{&bi.Main}, bi.Deps...)
	for _, m := range mods {
		if m.Path == module && m.Replace == nil && m.Version != "(devel)" {
			return m.Version
		}
	}
	return ""
}
