package checkpoint

import "sync"

// GroupJournal makes journal records durable with group commit: many
// goroutines append concurrently, one fsync covers every record written
// since the last, and AppendDurable returns only once its record is on disk.
// It is how a concurrent step records "about to write key X" before writing X
// without paying one fsync per key.
type GroupJournal struct {
	j       *Journal
	mu      sync.Mutex
	cond    *sync.Cond
	written uint64 // records appended
	synced  uint64 // records known durable
	syncing bool
	err     error
}

// NewGroupJournal wraps j; the caller still closes j.
func NewGroupJournal(j *Journal) *GroupJournal {
	g := &GroupJournal{j: j}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// Append buffers a record without waiting for it to be durable.
func (g *GroupJournal) Append(rec any) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return g.err
	}
	if err := g.j.Append(rec); err != nil {
		g.err = err
		return err
	}
	g.written++
	return nil
}

// AppendDurable appends rec and waits until it is fsynced.
func (g *GroupJournal) AppendDurable(rec any) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return g.err
	}
	if err := g.j.Append(rec); err != nil {
		g.err = err
		return err
	}
	g.written++
	return g.waitLocked(g.written)
}

// Sync makes every record appended so far durable.
func (g *GroupJournal) Sync() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waitLocked(g.written)
}

// waitLocked waits until record n is durable, becoming the syncer if nobody
// is syncing. Called with g.mu held.
func (g *GroupJournal) waitLocked(n uint64) error {
	for g.synced < n && g.err == nil {
		if g.syncing {
			g.cond.Wait()
			continue
		}
		g.syncing = true
		target := g.written
		err := g.j.w.Flush() // bufio is not goroutine-safe: flush under the lock
		if err == nil {
			g.mu.Unlock()
			err = g.j.f.Sync() // the slow part, while others keep appending
			if err == nil {
				err = g.j.ship()
			}
			g.mu.Lock()
		}
		g.syncing = false
		if err != nil {
			g.err = err
		} else if target > g.synced {
			g.synced = target
		}
		g.cond.Broadcast()
	}
	return g.err
}
