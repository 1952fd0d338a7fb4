package linux

import "testing"

func TestParseContainer(t *testing.T) {
	const id = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899"
	tests := []struct {
		path string
		want Container
	}{
		{"/", Container{}},
		{"", Container{}},
		{"/user.slice/user-1000.slice/session-3.scope", Container{Name: "session-3.scope", Runtime: "systemd"}},
		{"/system.slice/sshd.service", Container{Name: "sshd.service", Runtime: "systemd"}},
		{"/system.slice/docker-" + id + ".scope", Container{ID: id, Runtime: "docker"}},
		{"/docker/" + id, Container{ID: id, Runtime: "docker"}},
		{"/docker/" + id + "/init", Container{ID: id, Runtime: "docker"}},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice/cri-containerd-" + id + ".scope",
			Container{ID: id, Runtime: "containerd"}},
		{"/kubepods/burstable/pod12345678-1234-1234-1234-123456789abc/" + id, Container{ID: id, Runtime: "kubernetes"}},
		{"/kubepods.slice/kubepods-pod1.slice/crio-" + id + ".scope", Container{ID: id, Runtime: "cri-o"}},
		{"/machine.slice/crio-conmon-" + id + ".scope", Container{Name: "crio-conmon-" + id + ".scope", Runtime: "systemd"}},
		{"/machine.slice/libpod-" + id + ".scope", Container{ID: id, Runtime: "podman"}},
		{"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope/container",
			Container{ID: id, Runtime: "podman"}},
		{"/machine.slice/libpod-conmon-" + id + ".scope", Container{Name: "libpod-conmon-" + id + ".scope", Runtime: "systemd"}},
		{"/libpod_parent/libpod-" + id, Container{ID: id, Runtime: "podman"}},
		{"/lxc.payload.web1/system.slice/nginx.service", Container{ID: "web1", Name: "web1", Runtime: "lxc"}},
		{"/lxc/web2", Container{ID: "web2", Name: "web2", Runtime: "lxc"}},
		{"/docker/not-an-id", Container{}},
		{"/system.slice/docker-XYZ.scope", Container{Name: "docker-XYZ.scope", Runtime: "systemd"}},
		{"/init.scope", Container{Name: "init.scope", Runtime: "systemd"}},
	}
	for _, tt := range tests {
		if got := ParseContainer(tt.path); got != tt.want {
			t.Errorf("ParseContainer(%q) = %+v, want %+v", tt.path, got, tt.want)
		}
	}
}

func TestIsHexID(t *testing.T) {
	for s, want := range map[string]bool{
		"abc":                    false,
		"0123456789ab":           true,
		"0123456789AB":           false,
		"0123456789abcdefg":      false,
		string(make([]byte, 65)): false,
	} {
		if got := isHexID(s, 12); got != want {
			t.Errorf("isHexID(%q) = %v", s, got)
		}
	}
}
