package command

import "context"

// Process is a running command as the checkpoint records it: its process
// group (the group leader's pid) and its command line, secrets masked.
type Process struct {
	PGID    int
	Command string
}

// Tracker is told about every command Run starts with it in its context.
type Tracker interface {
	// Started is called once the command's process group exists, before
	// Run waits for it; an error stops the command (its group is killed).
	Started(p Process) error
	// Ended is called once no process of the group is left.
	Ended(p Process)
}

type trackerKey struct{}

// WithTracker returns ctx carrying t, for the commands run with it.
func WithTracker(ctx context.Context, t Tracker) context.Context {
	return context.WithValue(ctx, trackerKey{}, t)
}
