package packaging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestContainerImageSeesHost builds the image with `make image` and runs
// it as the Dockerfile documents (host pid namespace, /sys/kernel from the
// host, SYS_ADMIN for Docker 20.10, which knows no CAP_BPF): a process the
// host starts while the container watches must show up with its pid and
// exit code.
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

	name := strings.ReplaceAll(strings.ReplaceAll(image, ":", "-"), "/", "-")
	t.Cleanup(func() { exec.Command(docker, "rm", "-f", name).Run() })
	run := exec.Command(docker, "run", "--rm", "--name", name, "--network", "none",
		"--pid=host", "--cap-add", "SYS_ADMIN", "-v", "/sys/kernel:/sys/kernel:ro",
		image, "--output", "json", "--duration", "30s")
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
	timer := time.AfterFunc(25*time.Second, func() { exec.Command(docker, "rm", "-f", name).Run() })
	defer timer.Stop()

	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 1<<20)
	var host *exec.Cmd
	seen := map[string]event{}
	for lines.Scan() {
		if host == nil {
			// The container prints events: it is attached. Start the host's
			// process now.
			host = exec.Command("sh", "-c", "exit 7")
			if err := host.Start(); err != nil {
				t.Fatal(err)
			}
			if err := host.Wait(); err == nil {
				t.Fatal("sh -c 'exit 7' exited 0")
			}
		}
		var e event
		if err := json.Unmarshal(lines.Bytes(), &e); err != nil {
			t.Fatalf("not a JSON event line: %v: %s", err, lines.Bytes())
		}
		if e.Process.PID != host.Process.Pid {
			continue
		}
		seen[e.Kind] = e
		if e.Kind == "exit" {
			break
		}
	}
	exec.Command(docker, "rm", "-f", name).Run()
	if host == nil {
		run.Wait()
		t.Fatalf("the container printed no event:\n%s", &stderr)
	}
	for _, kind := range []string{"fork", "exec", "exit"} {
		if _, ok := seen[kind]; !ok {
			t.Errorf("no %s event for the host's sh (pid %d); seen %v\nstderr:\n%s", kind, host.Process.Pid, seen, &stderr)
		}
	}
	if e := seen["exit"]; e.Exit.Code != 7 {
		t.Errorf("host's sh exit event: code %d, want 7", e.Exit.Code)
	}
}
