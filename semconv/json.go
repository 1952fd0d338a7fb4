package semconv

import (
	"fmt"
)

// MarshalText encodes the kind by name, so JSON lines read "exec_failed".
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses a kind name.
func (k *Kind) UnmarshalText(b []byte) error {
	s := string(b)
	if s == kindNames[KindExecAttempt] {
		*k = KindExecAttempt
		return nil
	}
	if s == kindNames[KindExisting] {
		*k = KindExisting
		return nil
	}
	v, err := ParseKind(s)
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// MarshalText encodes the outcome by name.
func (o SignalOutcome) MarshalText() ([]byte, error) {
	if o == 0 {
		return []byte(""), nil
	}
	return []byte(o.String()), nil
}

// UnmarshalText parses an outcome name.
func (o *SignalOutcome) UnmarshalText(b []byte) error {
	s := string(b)
	for i, n := range outcomeNames {
		if n == s {
			*o = SignalOutcome(i)
			return nil
		}
	}
	return fmt.Errorf("unknown signal outcome %q", s)
}

// MarshalText encodes the OS by name.
func (o OS) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText parses an OS name.
func (o *OS) UnmarshalText(b []byte) error {
	switch string(b) {
	case "linux":
		*o = OSLinux
	case "freebsd":
		*o = OSFreeBSD
	case "unknown", "":
		*o = OSUnknown
	default:
		return fmt.Errorf("unknown os %q", b)
	}
	return nil
}
