package linux

import "bytes"

// traceParentFrom finds TRACEPARENT=… in a NUL-separated environment block
// (the form of /proc/PID/environ) and returns its value, or "".
func traceParentFrom(env []byte) string {
	const key = "TRACEPARENT="
	for len(env) > 0 {
		var kv []byte
		if i := bytes.IndexByte(env, 0); i >= 0 {
			kv, env = env[:i], env[i+1:]
		} else {
			kv, env = env, nil
		}
		if bytes.HasPrefix(kv, []byte(key)) {
			return string(kv[len(key):])
		}
	}
	return ""
}
