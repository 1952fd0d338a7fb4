package packaging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestContainerImageSeesHost builds the image with `make image` and runs
// it as the Dockerfile documents (host pid namespace, /sys/kernel and the
// cgroup tree from the host, SYS_ADMIN for Docker 20.10, which knows no
// CAP_BPF). A process the host starts while the container watches must
// show up with its pid and exit code, and a process in another container
// with that container's id.
func TestContainerImageSeesHost(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker is not installed (Debian: apt-get install docker.io)")
	}
	if out, err := exec.Command(docker, "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("no docker daemon to talk to (start dockerd): %v: %s", err, bytes.TrimSpace(out))
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	image := fmt.Sprintf("procotel-packaging-test:%d", os.Getpid())
	build := exec.Command("make", "-C", "..", "image", "IMAGE="+image)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(docker, "rmi", "-f", image).Run() })

	name := fmt.Sprintf("procotel-packaging-test-%d", os.Getpid())
	t.Cleanup(func() { exec.Command(docker, "rm", "-f", name).Run() })
	run := exec.Command(docker, "run", "--rm", "--name", name, "--network", "none",
		"--pid=host", "--cap-add", "SYS_ADMIN",
		"-v", "/sys/kernel:/sys/kernel:ro", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
		image, "--output", "json", "--duration", "60s")
	stdout, err := run.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	run.Stderr = &stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer run.Wait()
	timer := time.AfterFunc(50*time.Second, func() { exec.Command(docker, "rm", "-f", name).Run() })
	defer timer.Stop()

	// Once the container prints events it is attached: start a host
	// process, then another container, and note who they are.
	events := make(chan event)
	go func() {
		defer close(events)
		lines := bufio.NewScanner(stdout)
		lines.Buffer(nil, 1<<20)
		for lines.Scan() {
			var e event
			if err := json.Unmarshal(lines.Bytes(), &e); err != nil {
				t.Errorf("not a JSON event line: %v: %s", err, lines.Bytes())
				return
			}
			events <- e
		}
	}()
	if _, ok := <-events; !ok {
		t.Fatalf("the container printed no event:\n%s", &stderr)
	}
	host := exec.Command("sh", "-c", "exit 7")
	if err := host.Run(); err == nil {
		t.Fatal("sh -c 'exit 7' exited 0")
	}
	cidfile := filepath.Join(t.TempDir(), "cid")
	if out, err := exec.Command(docker, "run", "--rm", "--network", "none", "--cidfile", cidfile, image, "version").CombinedOutput(); err != nil {
		t.Fatalf("docker run %s version: %v\n%s", image, err, out)
	}
	cid, err := os.ReadFile(cidfile)
	if err != nil {
		t.Fatal(err)
	}

	seen := map[string]event{}
	containerExec := false
	for e := range events {
		if e.Process.PID == host.Process.Pid {
			seen[e.Kind] = e
		}
		if e.Kind == "exec" && e.Process.ContainerID == strings.TrimSpace(string(cid)) {
			containerExec = true
		}
		if containerExec && seen["exit"].Kind != "" {
			break
		}
	}
	exec.Command(docker, "rm", "-f", name).Run()
	for range events {
		// the reader stops once the container's output closes
	}
	for _, kind := range []string{"fork", "exec", "exit"} {
		if _, ok := seen[kind]; !ok {
			t.Errorf("no %s event for the host's sh (pid %d); seen %v\nstderr:\n%s", kind, host.Process.Pid, seen, &stderr)
		}
	}
	if e := seen["exit"]; e.Exit.Code != 7 {
		t.Errorf("host's sh exit event: code %d, want 7", e.Exit.Code)
	}
	if !containerExec {
		t.Errorf("no exec event with container id %s (the second container's)", cid)
	}
}
