package linux

import (
	"bytes"
	"fmt"
	"strings"
)

// envFilter is the allowlist of environment variables an exec reports:
// exact names, and prefixes (a pattern ending in "*"). A nil filter
// allows none.
type envFilter struct {
	names    []string
	prefixes []string
}

// newEnvFilter returns the filter of patterns, or nil when there are none.
func newEnvFilter(patterns []string) (*envFilter, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	f := &envFilter{}
	for _, p := range patterns {
		name, prefix := strings.CutSuffix(p, "*")
		if (name == "" && !prefix) || strings.ContainsAny(name, "=*\x00") {
			return nil, fmt.Errorf("capture env: %q is not a variable name or a prefix ending in *", p)
		}
		if prefix {
			f.prefixes = append(f.prefixes, name)
		} else {
			f.names = append(f.names, name)
		}
	}
	return f, nil
}

func (f *envFilter) allows(name []byte) bool {
	if f == nil {
		return false
	}
	for _, n := range f.names {
		if string(name) == n {
			return true
		}
	}
	for _, p := range f.prefixes {
		if bytes.HasPrefix(name, []byte(p)) {
			return true
		}
	}
	return false
}

// pickEnv returns the variables of a NUL-separated environment block
// that the filter allows, "NAME=value", and when traceParent the value of
// TRACEPARENT. A last variable cut before its NUL is kept as it is.
func (d *decoder) pickEnv(block []byte, traceParent bool) (env []string, tp string) {
	if d.env == nil && !traceParent {
		return nil, ""
	}
	const tpKey = "TRACEPARENT"
	for len(block) > 0 {
		var kv []byte
		kv, block = nextVar(block)
		eq := bytes.IndexByte(kv, '=')
		if eq <= 0 {
			continue
		}
		name := kv[:eq]
		if traceParent && tp == "" && string(name) == tpKey {
			tp = d.str(kv[eq+1:])
		}
		if d.env.allows(name) {
			env = append(env, d.str(kv))
		}
	}
	return env, tp
}
