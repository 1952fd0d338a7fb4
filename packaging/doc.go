// Package packaging holds what it takes to run procotel as a system
// agent: the systemd unit and its sysusers.d file, the FreeBSD rc.d
// script and port skeleton, the container image, the Kubernetes
// DaemonSet with its node Collector agent, the nfpm description of the
// .deb and the default configuration they all install. The Go code here
// is only the tests that check those files against the binary, the
// configuration model and the tools that read them.
package packaging
