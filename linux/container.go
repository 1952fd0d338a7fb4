package linux

import "strings"

// Container is what a cgroup path says about the container a process runs
// in. The zero value means the host.
type Container struct {
	ID      string
	Name    string
	Runtime string // docker, containerd, cri-o, podman, kubernetes, lxc, systemd
}

// scopePrefixes are the systemd scope names container runtimes give their
// containers: "docker-<id>.scope" and so on.
var scopePrefixes = []struct{ prefix, runtime string }{
	{"docker-", "docker"},
	{"cri-containerd-", "containerd"},
	{"crio-", "cri-o"},
	{"libpod-", "podman"},
}

// ParseContainer derives the container from a cgroup v2 path such as
// "/system.slice/docker-<64 hex>.scope" or
// "/kubepods/burstable/pod<uid>/<64 hex>". The innermost component that
// names a container wins. A systemd service or scope that is not a
// container gives Runtime "systemd" and the unit as Name; anything else
// gives the zero Container.
func ParseContainer(path string) Container {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var unit string
	for i := len(parts) - 1; i >= 0; i-- {
		part := parts[i]
		if c, ok := parseContainerPart(parts, i); ok {
			return c
		}
		if unit == "" && (strings.HasSuffix(part, ".service") || strings.HasSuffix(part, ".scope")) {
			unit = part
		}
	}
	if unit != "" {
		return Container{Name: unit, Runtime: "systemd"}
	}
	return Container{}
}

func parseContainerPart(parts []string, i int) (Container, bool) {
	part := parts[i]
	if id, ok := strings.CutSuffix(part, ".scope"); ok {
		for _, sp := range scopePrefixes {
			rest, ok := strings.CutPrefix(id, sp.prefix)
			if !ok {
				continue
			}
			// "crio-conmon-<id>.scope" and "libpod-conmon-<id>.scope" hold
			// the runtime's monitor, not the container.
			if isHexID(rest, 12) {
				return Container{ID: rest, Runtime: sp.runtime}, true
			}
		}
		return Container{}, false
	}
	if name, ok := strings.CutPrefix(part, "lxc.payload."); ok && name != "" {
		return Container{ID: name, Name: name, Runtime: "lxc"}, true
	}
	if i == 0 {
		return Container{}, false
	}
	parent := parts[i-1]
	switch {
	case parent == "docker" && isHexID(part, 64):
		return Container{ID: part, Runtime: "docker"}, true
	case parent == "libpod_parent" && isHexID(strings.TrimPrefix(part, "libpod-"), 64):
		return Container{ID: strings.TrimPrefix(part, "libpod-"), Runtime: "podman"}, true
	case isHexID(part, 64) && parts[0] == "kubepods":
		// The cgroupfs driver does not say which runtime made it.
		return Container{ID: part, Runtime: "kubernetes"}, true
	case parent == "lxc" && i == 1:
		return Container{ID: part, Name: part, Runtime: "lxc"}, true
	}
	return Container{}, false
}

// isHexID reports whether s is a lower-case hexadecimal id of at least min
// and at most 64 digits.
func isHexID(s string, min int) bool {
	if len(s) < min || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
