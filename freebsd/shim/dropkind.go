package shim

// NumDropKinds is the number of libdtrace drop kinds (dtrace_dropkind_t).
const NumDropKinds = 10

var dropKindNames = [NumDropKinds]string{
	"principal", "aggregation", "dynamic", "dynamic_rinse", "dynamic_dirty",
	"speculation", "speculation_busy", "speculation_unavailable",
	"stack_string_overflow", "double_error",
}

// DropKindName names a libdtrace drop kind.
func DropKindName(kind int) string {
	if kind >= 0 && kind < NumDropKinds {
		return dropKindNames[kind]
	}
	return "unknown"
}
