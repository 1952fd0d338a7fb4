package semconv

import (
	"strings"

	"go.opentelemetry.io/otel/attribute"
	otelsemconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// ResourceKey names the Resource a process's records and spans belong to:
// the host (the zero key), or a container, or a FreeBSD jail. The
// Collector's k8sattributes processor and most back ends associate
// telemetry with a container or pod by Resource attributes only, so the
// exporters group records and spans by this key, each group under its own
// Resource: the observer's attributes plus the ones of the key.
type ResourceKey struct {
	ContainerID      string
	ContainerName    string
	ContainerRuntime string
	// PodUID is the Kubernetes pod uid the cgroup path names, if any.
	PodUID   string
	JailID   int32
	JailName string
}

// IsHost says the key is the host's own Resource.
func (k ResourceKey) IsHost() bool { return k == ResourceKey{} }

// ResourceKeyOf returns the Resource key of p.
func ResourceKeyOf(p *Process) ResourceKey {
	if p.ContainerID == "" && p.JailID == 0 {
		return ResourceKey{}
	}
	k := ResourceKey{JailID: p.JailID, JailName: p.JailName}
	if p.ContainerID != "" {
		k.ContainerID, k.ContainerName, k.ContainerRuntime = p.ContainerID, p.ContainerName, p.ContainerRuntime
		k.PodUID = PodUID(p.CgroupPath)
	}
	return k
}

// Attributes appends the attributes k adds to the observer's Resource:
// container.id, container.name, container.runtime.name and k8s.pod.uid for
// a container; procotel.jail.id and procotel.jail.name for a jail.
func (k ResourceKey) Attributes(dst []attribute.KeyValue) []attribute.KeyValue {
	dst = appendContainer(dst, k.ContainerID, k.ContainerName, k.ContainerRuntime)
	if k.PodUID != "" {
		dst = append(dst, otelsemconv.K8SPodUIDKey.String(k.PodUID))
	}
	return appendJail(dst, k.JailID, k.JailName)
}

// PodUID returns the Kubernetes pod uid a cgroup path names: the kubelet
// puts a pod's containers under ".../pod<uid>/..." (cgroupfs driver) or
// ".../kubepods-<qos>-pod<uid with _ for ->.slice/..." (systemd driver).
// It returns "" when the path names no pod.
func PodUID(cgroupPath string) string {
	if !strings.Contains(cgroupPath, "kubepods") {
		return ""
	}
	for rest := cgroupPath; ; {
		i := strings.Index(rest, "pod")
		if i < 0 {
			return ""
		}
		rest = rest[i+3:]
		if len(rest) < 36 {
			return ""
		}
		if uid, ok := podUID(rest[:36]); ok {
			return uid
		}
	}
}

// podUID checks that s is a uid in 8-4-4-4-12 lower-case hex groups,
// separated by - or _, and returns it with dashes.
func podUID(s string) (string, bool) {
	b := []byte(s)
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' && c != '_' {
				return "", false
			}
			b[i] = '-'
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return "", false
			}
		}
	}
	return string(b), true
}
