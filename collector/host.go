package collector

import (
	"os"
	"runtime/debug"
	"strings"

	"github.com/procotel/procotel/semconv"
)

// observer describes this host for the resource of everything the
// receiver emits, as the standalone exporter does.
func observer(osType semconv.OS) semconv.Observer {
	o := semconv.Observer{OS: osType, HostID: hostID(), OSVersion: osRelease(), ServiceVersion: procotelVersion()}
	o.HostName, _ = os.Hostname()
	return o
}

// hostID is the machine id OpenTelemetry's host.id asks for: systemd's
// /etc/machine-id on Linux, /etc/hostid on FreeBSD.
func hostID() string {
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id", "/etc/hostid"} {
		if b, err := os.ReadFile(p); err == nil {
			if s := strings.TrimSpace(string(b)); s != "" {
				return s
			}
		}
	}
	return ""
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
