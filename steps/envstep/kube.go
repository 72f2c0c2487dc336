package envstep

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/internal/hcldecode"
	kcfg "github.com/cutover/cutover/providers/kubernetes"
	"github.com/cutover/cutover/steps"
	"github.com/cutover/cutover/steps/internal/kube"
)

// kubeStep is an env step on Kubernetes objects.
type kubeStep struct {
	target    kube.Target
	container string
	set       map[string]string
	setKeys   []string
	sensitive map[string]bool
	unset     []string
	identical bool
}

// kubeUndo is the undo record: where the objects are (so a rollback needs
// no input) and, per object, digests of its variables before and after
// the step. The variables themselves are blobs object-<i> (before) and
// after-<i>, kept 0600 like every secret undo blob.
type kubeUndo struct {
	Cluster    string        `json:"cluster"`
	Kubeconfig string        `json:"kubeconfig,omitempty"`
	Context    string        `json:"context,omitempty"`
	InCluster  bool          `json:"in_cluster,omitempty"`
	Namespace  string        `json:"namespace"`
	Timeout    string        `json:"timeout,omitempty"`
	Objects    []kubeObjUndo `json:"objects"`
}

type kubeObjUndo struct {
	Ref       kube.Ref `json:"ref"`
	Container string   `json:"container,omitempty"`
	Path      string   `json:"path"`
	Before    string   `json:"before_sha256"`
	After     string   `json:"after_sha256"`
}

// decodeKube builds the Kubernetes form of the step from its decoded
// body: kubernetes and objects instead of files; comment and minio, which
// only mean something for files, are refused.
func decodeKube(body hcl.Body, c Config, dc *hcldecode.Context, diags hcl.Diagnostics) (steps.Step, hcl.Diagnostics) {
	s := &kubeStep{container: c.Container, unset: c.Unset, identical: c.RequireIdentical == nil || *c.RequireIdentical}
	if diags.HasErrors() {
		return s, diags
	}
	attrs := hcldecode.Attributes(body, &c)
	t, d := kube.DecodeTarget(dc, body, attrs, c.Kubernetes, c.Objects, kube.Rule{Step: "env", Refuse: []string{"files", "comment", "minio"},
		Why: "applies to env files; a step with kubernetes changes the objects it names (objects).", Example: `["secret/minio-env"]`})
	s.target, diags = t, append(diags, d...)
	if c.Set != nil {
		s.set, s.sensitive, d = decodeSet(c.Set, dc)
		diags = append(diags, d...)
	}
	s.setKeys = sortedKeys(s.set)
	if c.Set == nil && len(c.Unset) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Nothing to change",
			Detail: "An env step needs at least one of set or unset (comment has no meaning for a Kubernetes object).", Subject: body.MissingItemRange().Ptr()})
	}
	return s, diags
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// edit applies set and unset to a copy of v.
func (s *kubeStep) edit(v *kube.Vars) *kube.Vars {
	out := v.Clone()
	for _, k := range s.setKeys {
		out.Set(k, s.set[k])
	}
	for _, k := range s.unset {
		out.Unset(k)
	}
	return out
}

// maskFor says which values of o a diff must not show: every value of a
// Secret, else sensitive inputs and secret-looking names.
func (s *kubeStep) maskFor(secret bool) func(string) bool {
	return func(key string) bool { return secret || s.sensitive[key] || envfile.LooksSecret(key) }
}

func render(changes []envfile.Change, mask func(string) bool) []string {
	out := make([]string, len(changes))
	for i, c := range changes {
		out[i] = c.Render(mask)
	}
	return out
}

// read checks the credentials' permissions, then reads every object;
// a Secret's values join the secret set, so no output can show them.
func (s *kubeStep) read(ctx context.Context, rt steps.Runtime) ([]*kube.Object, error) {
	c := s.target.Cluster
	if err := kube.CheckAccess(ctx, c, s.target.Refs, kube.Verbs); err != nil {
		return nil, err
	}
	objs := make([]*kube.Object, len(s.target.Refs))
	for i, ref := range s.target.Refs {
		o, err := kube.Get(ctx, c, ref, s.container)
		if err != nil {
			return nil, err
		}
		if o.Secret() {
			for _, k := range o.Vars.Keys() {
				v, _ := o.Vars.Get(k)
				rt.Secrets().Add(v)
			}
		}
		objs[i] = o
	}
	return objs, s.check(objs)
}

// check refuses env entries set from elsewhere and, unless
// require_identical = false, objects that disagree on a variable the step
// changes (names only; values are never shown).
func (s *kubeStep) check(objs []*kube.Object) error {
	for _, o := range objs {
		for _, k := range append(append([]string{}, s.setKeys...), s.unset...) {
			if o.Vars.FromElsewhere(k) {
				return fmt.Errorf("%s container %s: %s takes its value from elsewhere (valueFrom): cutover does not replace it; change its source instead", o.Ref, o.Container, k)
			}
		}
	}
	if !s.identical {
		return nil
	}
	for _, o := range objs[1:] {
		for _, k := range append(append([]string{}, s.setKeys...), s.unset...) {
			v0, ok0 := objs[0].Vars.Get(k)
			v, ok := o.Vars.Get(k)
			if v0 != v || ok0 != ok {
				return fmt.Errorf("%s and %s disagree on %s before the change: make them agree, or set require_identical = false", objs[0].Ref, o.Ref, k)
			}
		}
	}
	return nil
}

// Plan checks permissions (SelfSubjectAccessReview: get and patch on each
// object), reads the objects, checks they agree, and shows each one's
// masked diff.
func (s *kubeStep) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	if s.target.Cluster == nil {
		return nil, nil
	}
	objs, err := s.read(ctx, rt)
	if err != nil {
		return nil, err
	}
	var actions []steps.Action
	for _, o := range objs {
		changes := kube.Diff(o.Vars, s.edit(o.Vars))
		a := steps.Action{Summary: fmt.Sprintf("%s: patch %s%s (resourceVersion %s): %d change(s)",
			s.target.Cluster.Describe(), o.Ref, inContainer(o), o.RV, len(changes)), Details: render(changes, s.maskFor(o.Secret()))}
		actions = append(actions, a)
	}
	return actions, nil
}

func inContainer(o *kube.Object) string {
	if o.Container == "" {
		return ""
	}
	return " container " + o.Container
}

// Apply saves each object's variables as they are (first save wins: a
// re-run computes from the same originals) and what it will write, then
// patches each object at the resourceVersion it read: a change by anyone
// else in between is refused by the API server and never overwritten.
func (s *kubeStep) Apply(ctx context.Context, rt steps.Runtime) error {
	objs, err := s.read(ctx, rt)
	if err != nil {
		return err
	}
	c := s.target.Cluster
	rec := kubeUndo{Cluster: c.Name, Kubeconfig: c.Kubeconfig, Context: c.Context, InCluster: c.InCluster, Namespace: c.Namespace}
	if c.CallTimeout > 0 {
		rec.Timeout = c.CallTimeout.String()
	}
	afters := make([]*kube.Vars, len(objs))
	for i, o := range objs {
		before, err := savedOrNow(rt, blobName("object", i), o.Vars)
		if err != nil {
			return err
		}
		afters[i] = s.edit(before)
		if err := rt.SaveBlob(blobName("after", i), afters[i].Encode()); err != nil {
			return err
		}
		rec.Objects = append(rec.Objects, kubeObjUndo{Ref: o.Ref, Container: o.Container, Path: o.Ref.Path(c.Namespace), Before: before.Digest(), After: afters[i].Digest()})
	}
	if err := rt.SaveUndo(rec); err != nil {
		return err
	}
	for i, o := range objs {
		if err := s.write(ctx, rt, o, rec.Objects[i], afters[i]); err != nil {
			return err
		}
	}
	rt.SetSummary(fmt.Sprintf("%d object(s) patched in %s", len(objs), c.Describe()))
	return nil
}

// savedOrNow returns the variables saved as blob name, or saves now's.
func savedOrNow(rt steps.Runtime, name string, now *kube.Vars) (*kube.Vars, error) {
	b, ok, err := rt.LoadBlob(name)
	if err != nil {
		return nil, err
	}
	if ok {
		return kube.DecodeVars(b)
	}
	return now, rt.SaveBlob(name, now.Encode())
}

func blobName(what string, i int) string { return fmt.Sprintf("%s-%d", what, i) }

// write patches o to after, unless it holds after already (a re-run);
// an object that holds neither what the run first read nor after was
// changed by someone else: refused.
func (s *kubeStep) write(ctx context.Context, rt steps.Runtime, o *kube.Object, u kubeObjUndo, after *kube.Vars) error {
	switch o.Digest() {
	case u.After:
		rt.Logf("%s already holds the change", o.Ref)
		return nil
	case u.Before:
	default:
		return fmt.Errorf("%s: %s: %w", s.target.Cluster.Name, o.Ref, kube.ErrChanged)
	}
	rv, err := kube.Put(ctx, s.target.Cluster, o, after)
	if err != nil {
		return err
	}
	rt.Logf("%s patched: resourceVersion %s -> %s", o.Ref, o.RV, rv)
	return nil
}

// Undo puts back each object's variables as they were before the step,
// at the resourceVersion it reads now, when the object still holds what
// the step wrote; an object changed since is left alone and reported with
// a masked diff (steps.ConflictError, path = the object's REST path)
// unless the operator chose --overwrite or --keep for it.
func (s *kubeStep) Undo(ctx context.Context, rt steps.Runtime) error {
	var rec kubeUndo
	ok, err := rt.LoadUndo(&rec)
	if err != nil || !ok {
		return err
	}
	c := rec.cluster()
	var conflicts []steps.FileConflict
	restored := 0
	for i, u := range rec.Objects {
		conflict, did, err := s.restore(ctx, rt, c, i, u)
		if err != nil {
			return err
		}
		if did {
			restored++
		}
		if conflict != nil {
			conflicts = append(conflicts, *conflict)
		}
	}
	rt.SetSummary(fmt.Sprintf("%d object(s) restored in %s", restored, c.Describe()))
	if len(conflicts) > 0 {
		return &steps.ConflictError{Step: rt.StepID(), Files: conflicts}
	}
	return nil
}

// cluster rebuilds the cluster configuration from the record.
func (r kubeUndo) cluster() *kcfg.Config {
	c := &kcfg.Config{Name: r.Cluster, Kubeconfig: r.Kubeconfig, Context: r.Context, InCluster: r.InCluster, Namespace: r.Namespace}
	c.CallTimeout, _ = time.ParseDuration(r.Timeout) // written by Duration.String
	return c
}

// restore handles one object; a conflict is returned, not an error. A
// write that loses a race with another writer (409) is retried on a fresh
// read, which then shows that writer's change as a conflict.
func (s *kubeStep) restore(ctx context.Context, rt steps.Runtime, c *kcfg.Config, i int, u kubeObjUndo) (*steps.FileConflict, bool, error) {
	before, after, err := loadVars(rt, i)
	if err != nil {
		return nil, false, err
	}
	for attempt := 0; ; attempt++ {
		o, err := kube.Get(ctx, c, u.Ref, u.Container)
		if err != nil {
			return nil, false, err
		}
		choice := rt.FileDecision(u.Path)
		switch {
		case o.Digest() == u.Before || choice == steps.ChoiceKeep:
			return nil, false, nil
		case o.Digest() != u.After && choice != steps.ChoiceOverwrite:
			diff := render(kube.Diff(after, o.Vars), s.maskFor(o.Secret()))
			return &steps.FileConflict{Path: u.Path, Now: o.Digest(), After: u.After, Diff: diff, CanOverwrite: true}, false, nil
		}
		_, err = kube.Put(ctx, c, o, before)
		if err == nil || !errors.Is(err, kube.ErrChanged) || attempt == 2 {
			return nil, err == nil, err
		}
	}
}

func loadVars(rt steps.Runtime, i int) (before, after *kube.Vars, err error) {
	for _, p := range []struct {
		name string
		into **kube.Vars
	}{{blobName("object", i), &before}, {blobName("after", i), &after}} {
		b, ok, err := rt.LoadBlob(p.name)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, fmt.Errorf("undo blob %s is missing", p.name)
		}
		if *p.into, err = kube.DecodeVars(b); err != nil {
			return nil, nil, err
		}
	}
	return before, after, nil
}
