package report

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/laiki-platform/laiki/engine/finding"
)

// SafeText escapes what a terminal or a CI log would take for more than
// text, so that a value a user wrote (an image in a team's file, a file
// name, a source or policy name) stays on its line and cannot start a new
// one: control characters (\n, \r, \t, ESC, BEL, DEL, the C1 controls),
// line and paragraph separators (U+2028, U+2029), bidirectional controls
// (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C) and bytes that
// are not UTF-8. They are written as Go writes them in a string literal
// (\n, \x1b, \u2028, \xff); everything else, backslashes included, is left
// as it is, so ordinary text is unchanged.
func SafeText(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if escaped(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case !escaped(r, n):
			b.WriteString(s[i : i+n])
		case r == utf8.RuneError:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < utf8.RuneSelf:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += n
	}
	return b.String()
}

// escaped reports whether SafeText escapes a rune of n bytes.
func escaped(r rune, n int) bool {
	if r == utf8.RuneError && n == 1 {
		return true // a byte that is not UTF-8
	}
	return unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp, unicode.Bidi_Control)
}

// SafeLocation is file:line:col for a line of plain text: the file escaped
// as SafeText, and preceded by ./ when it starts with anything but a letter,
// a digit, '.', '/' or '_', so that a file name cannot start a line of a CI
// log with a command (::warning ... on GitHub Actions, ##vso[...] on Azure
// Pipelines; runners skip leading blanks). ./ names the same file.
func SafeLocation(l finding.Location) string {
	l.File = SafeText(l.File)
	if r, _ := utf8.DecodeRuneInString(l.File); l.File != "" && !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '.' && r != '/' && r != '_' {
		l.File = "./" + l.File
	}
	return l.String()
}
