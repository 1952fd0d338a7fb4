package linux

import "bytes"

// traceParentFrom finds TRACEPARENT=… in a NUL-separated environment block
// (the form of /proc/PID/environ) and returns its value, or "".
func traceParentFrom(env []byte) string {
	const key = "TRACEPARENT="
	for len(env) > 0 {
		var kv []byte
		kv, env = nextVar(env)
		if bytes.HasPrefix(kv, []byte(key)) {
			return string(kv[len(key):])
		}
	}
	return ""
}

// nextVar splits the first variable off a NUL-separated environment
// block; a last variable without its NUL is taken as it is.
func nextVar(env []byte) (kv, rest []byte) {
	if i := bytes.IndexByte(env, 0); i >= 0 {
		return env[:i], env[i+1:]
	}
	return env, nil
}
