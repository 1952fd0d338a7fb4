package terminal

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text that comes from the processes watched (argv, executable paths,
// kernel task names, filenames, container and jail names) is chosen by
// whoever runs those processes. Printed as it is, an escape sequence in it
// moves the cursor, erases lines or sets the window title of the
// operator's terminal. Every such string goes through Escape (or
// AppendEscaped) on its way to a terminal.

// NeedsEscape reports whether s holds anything a terminal could act on or
// that would not show as itself: a C0 control character (tab and newline
// included), DEL, a C1 control character (U+0080 to U+009F), another
// character that is not printable (strconv.IsPrint: format characters such
// as U+202E, which reorders the text after it, separators other than the
// ASCII space), or a byte that is not valid UTF-8.
func NeedsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		} else if c >= 0x80 {
			return needsEscapeUTF8(s[i:])
		}
	}
	return false
}

// needsEscapeUTF8 is NeedsEscape past the first non-ASCII byte.
func needsEscapeUTF8(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			if c < 0x20 || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !strconv.IsPrint(r) {
			return true
		}
		i += n
	}
	return false
}

// Escape returns s when it can be printed as it is, and otherwise s in
// double quotes with Go's escapes (strconv.Quote: "\x1b[2K", "\u0085",
// "\xff"), so what the terminal shows is exactly what the string held and
// the quotes say it was escaped. Escape(Escape(s)) == Escape(s).
func Escape(s string) string {
	if !NeedsEscape(s) {
		return s
	}
	return strconv.Quote(s)
}

// AppendEscaped appends Escape(s) to b; it does not allocate when s needs
// no escape and b has room.
func AppendEscaped(b []byte, s string) []byte {
	if !NeedsEscape(s) {
		return append(b, s...)
	}
	return strconv.AppendQuote(b, s)
}

// shellSpecial are the characters that make a shell argument need quotes.
const shellSpecial = " '\"\\$`|&;<>(){}*?"

// QuoteArg returns a command-line argument as a shell user reads it: as
// it is when that is unambiguous, else quoted (strconv.Quote), which also
// escapes every character Escape would. The empty argument is "".
func QuoteArg(a string) string {
	return string(AppendQuotedArg(nil, a))
}

// AppendQuotedArg appends QuoteArg(a) to b.
func AppendQuotedArg(b []byte, a string) []byte {
	if a == "" || NeedsEscape(a) || strings.ContainsAny(a, shellSpecial) {
		return strconv.AppendQuote(b, a)
	}
	return append(b, a...)
}
