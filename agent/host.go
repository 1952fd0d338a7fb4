package agent

import (
	"os"
	"strings"

	"github.com/procotel/procotel/semconv"
)

// Observer describes this host, for the Resource of everything procotel
// emits (the standalone exporter's and the receiver's alike): host name,
// host.id, the OS type the backend reports and the kernel release, and
// procotel's version.
func Observer(osType semconv.OS, version string) semconv.Observer {
	o := semconv.Observer{OS: osType, HostID: hostID(), OSVersion: osRelease(), ServiceVersion: version}
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
