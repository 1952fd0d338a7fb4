package semconv

import "testing"

func TestPodUID(t *testing.T) {
	const uid = "0f5a6b1c-2d3e-4f50-8a9b-0c1d2e3f4a5b"
	for path, want := range map[string]string{
		// cgroupfs driver
		"/kubepods/burstable/pod" + uid + "/4c3f5e": uid,
		"/kubepods/pod" + uid + "/abc":              uid,
		// systemd driver: dashes become underscores in the slice name
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f5a6b1c_2d3e_4f50_8a9b_0c1d2e3f4a5b.slice/cri-containerd-4c3f.scope": uid,
		"/kubepods.slice/kubepods-pod0f5a6b1c_2d3e_4f50_8a9b_0c1d2e3f4a5b.slice/crio-1.scope":                                                 uid,
		// no pod
		"/system.slice/docker-4c3f.scope":                               "",
		"/kubepods/burstable/podnotauid/x":                              "",
		"/user.slice/pod" + uid + "/x":                                  "",
		"/kubepods/burstable/pod0F5A6B1C-2D3E-4F50-8A9B-0C1D2E3F4A5B/x": "",
		"": "",
	} {
		if got := PodUID(path); got != want {
			t.Errorf("PodUID(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestResourceKeyOf(t *testing.T) {
	host := Process{PID: 1, CgroupPath: "/init.scope"}
	if k := ResourceKeyOf(&host); !k.IsHost() || len(k.Attributes(nil)) != 0 {
		t.Errorf("host process: %+v", k)
	}
	c := Process{PID: 2, ContainerID: "4c3f", ContainerName: "web", ContainerRuntime: "containerd",
		CgroupPath: "/kubepods/besteffort/pod0f5a6b1c-2d3e-4f50-8a9b-0c1d2e3f4a5b/4c3f"}
	k := ResourceKeyOf(&c)
	got := map[string]string{}
	for _, kv := range k.Attributes(nil) {
		got[string(kv.Key)] = kv.Value.String()
	}
	want := map[string]string{"container.id": "4c3f", "container.name": "web", "container.runtime.name": "containerd",
		"k8s.pod.uid": "0f5a6b1c-2d3e-4f50-8a9b-0c1d2e3f4a5b"}
	if len(got) != len(want) {
		t.Errorf("container attributes %v, want %v", got, want)
	}
	for key, v := range want {
		if got[key] != v {
			t.Errorf("%s = %q, want %q", key, got[key], v)
		}
	}
	j := Process{PID: 3, JailID: 7, JailName: "www"}
	if k := ResourceKeyOf(&j); k.IsHost() || k.JailID != 7 || len(k.Attributes(nil)) != 2 {
		t.Errorf("jailed process: %+v", k)
	}
}
