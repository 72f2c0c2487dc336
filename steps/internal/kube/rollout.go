package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	kcfg "github.com/cutover/cutover/providers/kubernetes"
)

// RestartedAtAnnotation is the pod template annotation `kubectl rollout
// restart` sets: a new value changes the template, so the workload's
// controller replaces every pod.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// ErrRollout means a rollout did not complete: its deadline passed, or
// the Deployment reported ProgressDeadlineExceeded.
var ErrRollout = errors.New("rollout did not complete")

// pollEvery is how often Wait reads the workload's status.
const pollEvery = 250 * time.Millisecond

// Restart sets the pod template's restartedAt annotation of a workload to
// now, as `kubectl rollout restart` does, and returns the generation the
// change produced (what Wait waits for).
func Restart(ctx context.Context, c *kcfg.Config, ref Ref, now time.Time) (int64, error) {
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{RestartedAtAnnotation: now.UTC().Format(time.RFC3339Nano)}}}}})
	if err != nil {
		return 0, err
	}
	var gen int64
	err = c.Call(ctx, func(ctx context.Context, cs kubernetes.Interface) error {
		opts := metav1.PatchOptions{FieldManager: "cutover"}
		var obj metav1.Object
		var err error
		if ref.Kind == KindDeployment {
			obj, err = cs.AppsV1().Deployments(c.Namespace).Patch(ctx, ref.Name, types.StrategicMergePatchType, patch, opts)
		} else {
			obj, err = cs.AppsV1().StatefulSets(c.Namespace).Patch(ctx, ref.Name, types.StrategicMergePatchType, patch, opts)
		}
		if err == nil {
			gen = obj.GetGeneration()
		}
		return err
	})
	if err != nil {
		return 0, apiError(c, "patch", ref, err)
	}
	return gen, nil
}

// Progress is where a rollout stands.
type Progress struct {
	Done bool
	// Status says it in words: generations, replicas, revisions.
	Status string
	// Failed is set when the controller gave up (Deployment
	// ProgressDeadlineExceeded).
	Failed bool
}

// Status reads a workload's rollout progress towards generation gen, by
// the rules of `kubectl rollout status`: the controller observed gen, every
// replica is updated, ready and available, no old replica is left, and
// (StatefulSet) the current revision is the update revision.
func Status(ctx context.Context, c *kcfg.Config, ref Ref, gen int64) (Progress, error) {
	var p Progress
	err := c.Call(ctx, func(ctx context.Context, cs kubernetes.Interface) error {
		if ref.Kind == KindDeployment {
			d, err := cs.AppsV1().Deployments(c.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err == nil {
				p = deploymentProgress(d, gen)
			}
			return err
		}
		s, err := cs.AppsV1().StatefulSets(c.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err == nil {
			p = statefulSetProgress(s, gen)
		}
		return err
	})
	if err != nil {
		return p, apiError(c, "get", ref, err)
	}
	return p, nil
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

func deploymentProgress(d *appsv1.Deployment, gen int64) Progress {
	st, want := d.Status, replicas(d.Spec.Replicas)
	p := Progress{Status: fmt.Sprintf("observed generation %d of %d, %d of %d replicas updated, %d available, %d in total",
		st.ObservedGeneration, gen, st.UpdatedReplicas, want, st.AvailableReplicas, st.Replicas)}
	for _, cond := range st.Conditions {
		if cond.Type == appsv1.DeploymentProgressing && cond.Status == corev1.ConditionFalse && cond.Reason == "ProgressDeadlineExceeded" {
			p.Failed, p.Status = true, p.Status+": progress deadline exceeded"
		}
	}
	p.Done = st.ObservedGeneration >= gen && st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want
	return p
}

func statefulSetProgress(s *appsv1.StatefulSet, gen int64) Progress {
	st, want := s.Status, replicas(s.Spec.Replicas)
	p := Progress{Status: fmt.Sprintf("observed generation %d of %d, %d of %d replicas updated, %d ready, %d available, revision %q (update revision %q)",
		st.ObservedGeneration, gen, st.UpdatedReplicas, want, st.ReadyReplicas, st.AvailableReplicas, st.CurrentRevision, st.UpdateRevision)}
	p.Done = st.ObservedGeneration >= gen && st.UpdatedReplicas == want && st.ReadyReplicas == want &&
		st.AvailableReplicas == want && st.UpdateRevision != "" && st.CurrentRevision == st.UpdateRevision
	return p
}

// Wait reads the workload's status until its rollout to generation gen
// completes, or deadline (or ctx's end) passes: then ErrRollout, with the
// last status read (or, when none could be read, the last error).
func Wait(ctx context.Context, c *kcfg.Config, ref Ref, gen int64, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	last, lastErr := "", "no status read yet"
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		p, err := Status(ctx, c, ref, gen)
		switch {
		case err == nil && p.Done:
			return nil
		case err == nil && p.Failed:
			return fmt.Errorf("%s: %s: %w: %s", c.Name, ref, ErrRollout, p.Status)
		case err == nil:
			last = p.Status
		default:
			// a read cut short by the deadline (client-go's rate limiter
			// refuses one that could not finish in time) says nothing
			lastErr = err.Error()
		}
		select {
		case <-ctx.Done():
			if last == "" {
				last = lastErr
			}
			return fmt.Errorf("%s: %s: %w by its deadline (%s): %s", c.Name, ref, ErrRollout, deadline.UTC().Format(time.RFC3339), last)
		case <-tick.C:
		}
	}
}
