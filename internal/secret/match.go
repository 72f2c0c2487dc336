package secret

// matcher is an Aho-Corasick automaton over bytes for a fixed set of
// patterns. It is built once per set of values and never changes, so any
// number of streams may step through it at once.
//
// A state is a node index; stepping is amortised O(1) per byte (failure
// links are followed, not precomputed into a full table, except at the
// root, where most bytes of ordinary output land).
type matcher struct {
	nodes []node
	root  [256]int32 // the root's transitions, dense: every byte has one
	// longest is the length of the longest pattern; maxShort that of the
	// longest short (whole-token) one, 0 if there is none.
	longest, maxShort int
}

// node is one trie node.
type node struct {
	edges []edge // sorted by byte; the root's are in matcher.root
	fail  int32
	// long is the length of the longest substring pattern that ends at
	// this node, directly or through the failure chain; 0 if none.
	long int32
	// short has bit k-1 set when a short pattern of length k ends here
	// (directly or through the failure chain).
	short uint8
}

type edge struct {
	b  byte
	to int32
}

// child returns the node reached from n by b in the trie, or -1.
func (n *node) child(b byte) int32 {
	for _, e := range n.edges {
		if e.b == b {
			return e.to
		}
		if e.b > b {
			break
		}
	}
	return -1
}

// newMatcher builds the automaton. Patterns shorter than ShortLength are
// recorded as short (whole-token) patterns, the others as substrings.
// Empty patterns are ignored.
func newMatcher(patterns []string) *matcher {
	m := &matcher{nodes: []node{{}}}
	for _, p := range patterns {
		if p == "" {
			continue
		}
		cur := int32(0)
		for i := 0; i < len(p); i++ {
			next := m.nodes[cur].child(p[i])
			if next < 0 {
				next = int32(len(m.nodes))
				m.nodes = append(m.nodes, node{})
				m.nodes[cur].edges = insertEdge(m.nodes[cur].edges, edge{p[i], next})
			}
			cur = next
		}
		if len(p) < ShortLength {
			m.nodes[cur].short |= 1 << (len(p) - 1)
			m.maxShort = max(m.maxShort, len(p))
		} else if int32(len(p)) > m.nodes[cur].long {
			m.nodes[cur].long = int32(len(p))
		}
		m.longest = max(m.longest, len(p))
	}
	m.link()
	return m
}

func insertEdge(edges []edge, e edge) []edge {
	i := 0
	for i < len(edges) && edges[i].b < e.b {
		i++
	}
	edges = append(edges, edge{})
	copy(edges[i+1:], edges[i:])
	edges[i] = e
	return edges
}

// link computes failure links breadth first and folds each node's
// failure chain into its long and short fields.
func (m *matcher) link() {
	for b := range m.root {
		m.root[b] = max(m.nodes[0].child(byte(b)), 0)
	}
	var queue []int32
	for _, e := range m.nodes[0].edges {
		queue = append(queue, e.to) // depth 1: fail to the root
	}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, e := range m.nodes[cur].edges {
			f := m.nodes[cur].fail
			for {
				if f == 0 {
					m.nodes[e.to].fail = m.root[e.b]
					break
				}
				if to := m.nodes[f].child(e.b); to >= 0 {
					m.nodes[e.to].fail = to
					break
				}
				f = m.nodes[f].fail
			}
			fn := m.nodes[m.nodes[e.to].fail]
			m.nodes[e.to].long = max(m.nodes[e.to].long, fn.long)
			m.nodes[e.to].short |= fn.short
			queue = append(queue, e.to)
		}
	}
}

// step returns the state after reading b in state s.
func (m *matcher) step(s int32, b byte) int32 {
	for s != 0 {
		if to := m.nodes[s].child(b); to >= 0 {
			return to
		}
		s = m.nodes[s].fail
	}
	return m.root[b]
}
