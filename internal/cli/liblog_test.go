package cli

import (
	"bytes"
	"log"
	"os"
	"testing"
)

// TestLibraryLogLinesDiscarded: a line a library writes through the
// standard logger (madmin-go does) never reaches cutover's stderr.
func TestLibraryLogLinesDiscarded(t *testing.T) {
	defer log.SetOutput(os.Stderr)
	var stderr bytes.Buffer
	log.SetOutput(&stderr) // as a process starts: the default logger writes to stderr
	var stdout bytes.Buffer
	Main([]string{"cutover", "--version"}, nil, &stdout, &stderr)
	log.Print("madmin: tier config: deprecated field secret=s3cr3t")
	if stderr.Len() != 0 {
		t.Fatalf("a library log line reached stderr: %q", stderr.String())
	}
}
