// Package envfile parses and edits the content of environment files such as
// /etc/default/minio or a systemd EnvironmentFile, changing only the lines
// an edit must touch and leaving every other byte as it was.
//
// # Syntax
//
// The dialect is systemd's EnvironmentFile= (its parser, src/basic/env-file.c),
// restricted to the forms a POSIX shell reads the same way but for trailing
// comments; the forms where the two differ are errors. The test supervisor
// reads env files with this package too, so a supervised service sees what
// cutover reads.
//
// A file is a sequence of lines ending in "\n" or "\r\n"; the last line may
// lack a line ending. Each line is one of:
//
//   - blank: only spaces, tabs and carriage returns;
//   - a comment: optional indentation, then '#' or ';';
//   - an assignment: optional indentation, a name matching
//     [A-Za-z_][A-Za-z0-9_]*, optional whitespace, '=', optional whitespace,
//     a value, and optional trailing whitespace. A leading "export" keyword
//     is an error: systemd ignores such a line.
//
// A value is one of:
//
//   - unquoted: everything up to the end of the line, with surrounding
//     whitespace removed; '#' is an ordinary byte (systemd has no trailing
//     comments: "K=v # x" is "v # x"). It is taken literally: no variable
//     expansion. A backslash is an error, because systemd drops it (and
//     joins the next line after a trailing one).
//   - 'single quoted': taken literally up to the next single quote.
//   - "double quoted": \" \\ \$ and \` stand for the character; a backslash
//     before any other character (n included) is kept with it, as systemd
//     and a shell do. "$VAR" is not expanded.
//
// After a closing quote only whitespace may follow: systemd would append
// anything else to the value. Quoted values cannot span lines. Anything
// else is an error, reported as a *ParseError with the line number and a
// short reason that says what to write instead. Error messages never quote
// the value, nor the invalid name (a stray line of a pasted key can look
// like "name=..."), since both may hold secrets.
//
// # Contract
//
// For every input Parse accepts, Parse(x).Bytes() is byte-identical to x.
// Get follows the shell: the last active assignment of a name wins.
// Set, Unset and Comment rewrite, remove or comment out only the lines of the
// assignments they concern; Set appends a line when the name is absent.
//
// The package does no I/O: files are read and replaced with internal/fsutil.
package envfile
