// Package envfile reads, edits and writes environment files such as
// /etc/default/minio or a systemd EnvironmentFile, changing only the lines
// an edit must touch and leaving every other byte as it was.
//
// # Syntax
//
// A file is a sequence of lines ending in "\n" or "\r\n"; the last line may
// lack a line ending. Each line is one of:
//
//   - blank: only spaces, tabs and carriage returns;
//   - a comment: optional indentation, then '#';
//   - an assignment: optional indentation, an optional "export" keyword
//     followed by whitespace, a name matching [A-Za-z_][A-Za-z0-9_]*,
//     optional whitespace, '=', optional whitespace, a value, and optional
//     trailing whitespace and comment.
//
// A value is one of:
//
//   - unquoted: everything up to the end of the line or up to a '#' that
//     follows whitespace (a trailing comment), with surrounding whitespace
//     removed. It is taken literally: no escapes, no variable expansion.
//     A value ending in a backslash is rejected, because shells and systemd
//     read that as a line continuation, which this package does not support.
//   - 'single quoted': taken literally up to the next single quote.
//   - "double quoted": \" \\ \n \$ and \` are escapes (\n is a newline);
//     a backslash before any other character is kept as is. "$VAR" is not
//     expanded.
//
// After a closing quote only whitespace and a comment (starting after
// whitespace) may follow. Quoted values cannot span lines. Anything else is
// an error, reported as a *ParseError with the line number and a short
// reason. Error messages never quote the value, nor the invalid name (a
// stray line of a pasted key can look like "name=..."), since both may hold
// secrets.
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
