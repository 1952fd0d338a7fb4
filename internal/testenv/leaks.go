package testenv

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/goleak"
)

// leaks reports goroutines still running (goleak retries for about a
// second while they end) and file descriptors opened since before.
func leaks(before map[string]string, opts ...goleak.Option) error {
	var problems []string
	if err := goleak.Find(opts...); err != nil {
		problems = append(problems, "goroutines left running: "+err.Error())
	}
	if before != nil {
		var extra []string
		deadline := time.Now().Add(2 * time.Second)
		for {
			extra = extra[:0]
			for fd, target := range openFDs() {
				if old, ok := before[fd]; !ok || old != target {
					if strings.HasPrefix(target, "/proc/") && strings.HasSuffix(target, "/fd") {
						continue // the directory being read
					}
					extra = append(extra, fd+" → "+target)
				}
			}
			if len(extra) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(extra) > 0 {
			sort.Strings(extra)
			problems = append(problems, fmt.Sprintf("%d file descriptors left open: %s", len(extra), strings.Join(extra, ", ")))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}
