package rotatejwt

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/steps"
)

// Defaults for an empty list.
const (
	DefaultEncoding = EncodingBase64DER
	DefaultCurve    = "P-256"
)

// decodeFormat checks the encoding and curve attributes.
func (s *Step) decodeFormat(c Config, attrs hcl.Attributes) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if c.Encoding != "" {
		s.encoding = Encoding(c.Encoding)
		if !slices.Contains(Encodings, s.encoding) {
			names := make([]string, len(Encodings))
			for i, e := range Encodings {
				names[i] = fmt.Sprintf("%q (%s)", string(e), e)
			}
			diags = append(diags, hcldecode.AttrError("Invalid key encoding",
				fmt.Sprintf("encoding is %q; use one of %s, or leave it out to use the list's current encoding.", c.Encoding, strings.Join(names, ", ")), attrs["encoding"]))
		}
	}
	if c.Curve != "" {
		s.curve = c.Curve
		if _, ok := curveByName(c.Curve); !ok {
			diags = append(diags, hcldecode.AttrError("Invalid curve",
				fmt.Sprintf("curve is %q; use one of %q, or leave it out to use the curve of the list's first key.", c.Curve, Curves), attrs["curve"]))
		}
	}
	return diags
}

// choice is the encoding and curve of the new key, and why.
type choice struct {
	Encoding Encoding
	Curve    string
	// Why says where each came from, for the plan.
	Why string
}

// rotation is what a rotation does to a list, by key ID: the entries
// before, after (the new key first) and dropped by keep.
type rotation struct {
	choice                 choice
	before, after, dropped []entry
}

// rotation reads the list and works out the rotation, with a placeholder
// for the new key (Apply fills it in). It refuses a list it cannot
// extend (see parseList) and an explicit encoding that differs from the
// entries kept.
func (s *Step) rotation(list string) (rotation, error) {
	entries, err := parseList(list)
	if err != nil {
		return rotation{}, fmt.Errorf("%s: %w", s.variable, err)
	}
	kept := entries[:min(s.keep, len(entries))]
	c, err := s.choose(entries, kept)
	if err != nil {
		return rotation{}, err
	}
	fresh := entry{Index: 1, Encoding: c.Encoding, Curve: c.Curve, KID: "<new>"}
	return rotation{choice: c, before: entries, after: append([]entry{fresh}, kept...), dropped: entries[len(kept):]}, nil
}

// choose picks the new key's encoding and curve: the step's, else the
// first entry's, else the defaults.
func (s *Step) choose(entries, kept []entry) (choice, error) {
	c := choice{Encoding: s.encoding, Curve: s.curve}
	var why []string
	switch {
	case c.Encoding != "":
		why = append(why, "encoding set in the step")
	case len(entries) > 0:
		c.Encoding, why = entries[0].Encoding, append(why, "encoding of entry 1")
	default:
		c.Encoding, why = DefaultEncoding, append(why, "default encoding (the list is empty)")
	}
	switch {
	case c.Curve != "":
		why = append(why, "curve set in the step")
	case len(entries) > 0:
		c.Curve, why = entries[0].Curve, append(why, "curve of entry 1")
	default:
		c.Curve, why = DefaultCurve, append(why, "default curve")
	}
	c.Why = strings.Join(why, ", ")
	if len(kept) > 0 && kept[0].Encoding != c.Encoding {
		return choice{}, fmt.Errorf("%s: %w: encoding = %q (%s), but the %d entr%s keep keeps %s %s: the list would mix formats; leave encoding out, or set keep = 0",
			s.variable, ErrKeyList, string(c.Encoding), c.Encoding, len(kept), plural(len(kept), "y", "ies"), plural(len(kept), "is", "are"), kept[0].Encoding)
	}
	return c, nil
}

// plural picks one or many by n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// action is the plan's account of the rotation.
func (r rotation) action(variable string, keep int) steps.Action {
	return steps.Action{
		Summary: fmt.Sprintf("generate a new ECDSA %s key, %s (%s); %s becomes new,<up to %d previous>",
			r.choice.Curve, r.choice.Encoding, r.choice.Why, variable, keep),
		Details: []string{
			"before: " + describeEntries(r.before),
			"after:  " + describeEntries(r.after),
			fmt.Sprintf("dropped by keep = %d: %s", keep, describeDropped(r.dropped)),
		},
	}
}

// describeEntries lists entries by key ID and curve, numbered.
func describeEntries(entries []entry) string {
	if len(entries) == 0 {
		return "(none)"
	}
	parts := make([]string, len(entries))
	for i, e := range entries {
		parts[i] = fmt.Sprintf("%d. %s", i+1, e)
	}
	return strings.Join(parts, ", ")
}

// describeDropped lists dropped entries by their place in the list before.
func describeDropped(entries []entry) string {
	if len(entries) == 0 {
		return "(none)"
	}
	parts := make([]string, len(entries))
	for i, e := range entries {
		parts[i] = fmt.Sprintf("entry %d %s", e.Index, e)
	}
	return strings.Join(parts, ", ")
}

// outputs records what Apply did: the new key's ID, how many were kept,
// the format, the IDs dropped, and the summary.
func (r rotation) outputs(rt steps.Runtime, kept int) {
	kid := r.after[0].KID
	rt.SetOutput("kid", kid)
	rt.SetOutput("kept", fmt.Sprint(kept))
	rt.SetOutput("encoding", string(r.choice.Encoding))
	rt.SetOutput("curve", r.choice.Curve)
	dropped := make([]string, len(r.dropped))
	for i, e := range r.dropped {
		dropped[i] = e.KID
	}
	rt.SetOutput("dropped", strings.Join(dropped, ","))
	summary := fmt.Sprintf("new signing key %s first (%s, %s), %d previous kept", kid, r.choice.Curve, r.choice.Encoding, kept)
	if len(dropped) > 0 {
		summary += fmt.Sprintf(", %d dropped (%s)", len(dropped), strings.Join(dropped, ", "))
	}
	rt.SetSummary(summary)
}
