package kube

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// applyOptions apply as the driver's field manager, taking over fields
// another manager (an operator's kubectl edit) set: the blueprint is the
// truth.
var applyOptions = metav1.ApplyOptions{FieldManager: FieldManager, Force: true}

// apply writes o with server-side apply, the namespace first.
func apply(ctx context.Context, c kubernetes.Interface, o *objects) error {
	ns := *o.namespace.Name
	if _, err := c.CoreV1().Namespaces().Apply(ctx, o.namespace, applyOptions); err != nil {
		return fmt.Errorf("apply namespace %s: %w", ns, err)
	}
	if _, err := c.CoreV1().ResourceQuotas(ns).Apply(ctx, o.quota, applyOptions); err != nil {
		return fmt.Errorf("apply resource quota %s/%s: %w", ns, *o.quota.Name, err)
	}
	if _, err := c.CoreV1().LimitRanges(ns).Apply(ctx, o.limits, applyOptions); err != nil {
		return fmt.Errorf("apply limit range %s/%s: %w", ns, *o.limits.Name, err)
	}
	if _, err := c.NetworkingV1().NetworkPolicies(ns).Apply(ctx, o.policy, applyOptions); err != nil {
		return fmt.Errorf("apply network policy %s/%s: %w", ns, *o.policy.Name, err)
	}
	if _, err := c.CoreV1().ServiceAccounts(ns).Apply(ctx, o.account, applyOptions); err != nil {
		return fmt.Errorf("apply service account %s/%s: %w", ns, *o.account.Name, err)
	}
	for _, s := range o.secrets {
		if _, err := c.CoreV1().Secrets(ns).Apply(ctx, s, applyOptions); err != nil {
			return fmt.Errorf("apply secret %s/%s: %w", ns, *s.Name, err)
		}
	}
	for _, d := range o.deployments {
		if _, err := c.AppsV1().Deployments(ns).Apply(ctx, d, applyOptions); err != nil {
			return fmt.Errorf("apply deployment %s/%s: %w", ns, *d.Name, err)
		}
	}
	for _, s := range o.services {
		if _, err := c.CoreV1().Services(ns).Apply(ctx, s, applyOptions); err != nil {
			return fmt.Errorf("apply service %s/%s: %w", ns, *s.Name, err)
		}
	}
	return nil
}
