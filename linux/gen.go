package linux

//go:generate go tool bpf2go -tags linux -type record -type task_state -type throttle_state procotel bpf/procotel.bpf.c -- -I./bpf -Wall -Werror
