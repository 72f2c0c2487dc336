package kube

import (
	"context"
	"errors"
	"fmt"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	kcfg "github.com/cutover/cutover/providers/kubernetes"
)

// ErrForbidden means the credentials lack a permission a step needs.
var ErrForbidden = errors.New("not allowed")

// Verbs a step needs on each object it names: read it, and write it with
// a merge patch.
var Verbs = []string{"get", "patch"}

// CheckAccess asks the API server, with a SelfSubjectAccessReview per verb
// and object, whether the block's credentials may do verbs on each of
// refs. Every refusal is reported, naming the verb and the object
// (ErrForbidden).
func CheckAccess(ctx context.Context, c *kcfg.Config, refs []Ref, verbs []string) error {
	var errs []error
	for _, ref := range refs {
		for _, verb := range verbs {
			allowed, reason, err := canI(ctx, c, ref, verb)
			switch {
			case err != nil:
				return fmt.Errorf("%s: asking whether the credentials may %s %s (SelfSubjectAccessReview): %w", c.Name, verb, ref, err)
			case !allowed:
				if reason != "" {
					reason = ": " + reason
				}
				errs = append(errs, fmt.Errorf("%s: %w to %s %s in namespace %s%s", c.Name, ErrForbidden, verb, ref, c.Namespace, reason))
			}
		}
	}
	return errors.Join(errs...)
}

func canI(ctx context.Context, c *kcfg.Config, ref Ref, verb string) (bool, string, error) {
	group, resource := ref.Resource()
	review := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authv1.ResourceAttributes{Namespace: c.Namespace, Verb: verb, Group: group, Resource: resource, Name: ref.Name},
	}}
	var res *authv1.SelfSubjectAccessReview
	err := c.Call(ctx, func(ctx context.Context, cs kubernetes.Interface) error {
		var err error
		res, err = cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return false, "", err
	}
	return res.Status.Allowed, res.Status.Reason, nil
}
