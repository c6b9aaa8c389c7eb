package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	netv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	"k8s.io/client-go/kubernetes"
)

// AnnotationApplied holds a hash of what the driver last applied to an
// object: an object whose hash matches needs no write, so a resync with
// nothing changed sends the API server nothing.
const AnnotationApplied = "stamp.dev/applied"

// applyOptions apply as the driver's field manager, taking over fields
// another manager (an operator's kubectl edit) set: the blueprint is the
// truth.
var applyOptions = metav1.ApplyOptions{FieldManager: FieldManager, Force: true}

// appliedState knows what the driver applied: applied returns the
// AnnotationApplied of the object of a kind (its resource name, e.g.
// "deployments") in namespace ns and whether the object is there, and
// wrote learns of a write the cache may not show yet.
type appliedState interface {
	applied(kind, ns, name string) (hash string, ok bool)
	wrote(kind, ns, name, hash string)
}

// annotated is an apply configuration that can carry annotations.
type annotated[T any] interface {
	WithAnnotations(map[string]string) T
}

// Apply configurations by kind.
type (
	nsConfig         = corev1ac.NamespaceApplyConfiguration
	quotaConfig      = corev1ac.ResourceQuotaApplyConfiguration
	limitsConfig     = corev1ac.LimitRangeApplyConfiguration
	policyConfig     = netv1ac.NetworkPolicyApplyConfiguration
	accountConfig    = corev1ac.ServiceAccountApplyConfiguration
	secretConfig     = corev1ac.SecretApplyConfiguration
	deploymentConfig = appsv1ac.DeploymentApplyConfiguration
	serviceConfig    = corev1ac.ServiceApplyConfiguration
	claimConfig      = corev1ac.PersistentVolumeClaimApplyConfiguration
)

// stampHash sets AnnotationApplied on config to the hash of config
// without it, and reports whether the cached object already has that
// hash.
func stampHash[T annotated[T]](config T, kind, ns, name string, state appliedState) (hash string, unchanged bool, err error) {
	b, err := json.Marshal(config)
	if err != nil {
		return "", false, fmt.Errorf("hash %s %s/%s: %w", kind, ns, name, err)
	}
	sum := sha256.Sum256(b)
	hash = hex.EncodeToString(sum[:12])
	config.WithAnnotations(map[string]string{AnnotationApplied: hash})
	got, ok := state.applied(kind, ns, name)
	return hash, ok && got == hash, nil
}

// applier applies one kind of object.
type applier[T any] func(ctx context.Context, config T, opts metav1.ApplyOptions) error

// applyOne applies config unless the cache shows it applied already,
// and reports whether it wrote.
func applyOne[T annotated[T]](ctx context.Context, config T, kind, ns, name string, state appliedState, do applier[T]) (bool, error) {
	hash, unchanged, err := stampHash(config, kind, ns, name, state)
	if err != nil || unchanged {
		return false, err
	}
	if err := do(ctx, config, applyOptions); err != nil {
		return false, fmt.Errorf("apply %s %s/%s: %w", kind, ns, name, err)
	}
	state.wrote(kind, ns, name, hash)
	return true, nil
}

// apply writes what of o the cache does not show applied already, with
// server-side apply, and returns how many objects it wrote. Objects o
// leaves nil are not written. The namespace goes first; then, at once,
// everything a pod needs at its admission (the quota and limit range,
// whose defaults it gets then), its start (the secrets, the claim) or
// its connections (the policy); then the deployments, which make pods.
func apply(ctx context.Context, c kubernetes.Interface, o *objects, cached appliedState) (writes int, err error) {
	ns := *o.namespace.Name
	var mu sync.Mutex
	phase := func(steps ...func() (bool, error)) error {
		g, _ := errgroup.WithContext(ctx)
		for _, step := range steps {
			g.Go(func() error {
				wrote, err := step()
				if wrote {
					mu.Lock()
					writes++
					mu.Unlock()
				}
				return err
			})
		}
		return g.Wait()
	}
	err = phase(func() (bool, error) {
		return applyOne(ctx, o.namespace, "namespaces", "", ns, cached, func(ctx context.Context, a *nsConfig, opts metav1.ApplyOptions) error {
			_, err := c.CoreV1().Namespaces().Apply(ctx, a, opts)
			return err
		})
	})
	if err != nil {
		return writes, err
	}
	var deps []func() (bool, error)
	if o.quota != nil {
		deps = append(deps, func() (bool, error) {
			return applyOne(ctx, o.quota, "resourcequotas", ns, quotaName, cached, func(ctx context.Context, a *quotaConfig, opts metav1.ApplyOptions) error {
				_, err := c.CoreV1().ResourceQuotas(ns).Apply(ctx, a, opts)
				return err
			})
		})
	}
	if o.limits != nil {
		deps = append(deps, func() (bool, error) {
			return applyOne(ctx, o.limits, "limitranges", ns, limitsName, cached, func(ctx context.Context, a *limitsConfig, opts metav1.ApplyOptions) error {
				_, err := c.CoreV1().LimitRanges(ns).Apply(ctx, a, opts)
				return err
			})
		})
	}
	if o.policy != nil {
		deps = append(deps, func() (bool, error) {
			return applyOne(ctx, o.policy, "networkpolicies", ns, policyName, cached, func(ctx context.Context, a *policyConfig, opts metav1.ApplyOptions) error {
				_, err := c.NetworkingV1().NetworkPolicies(ns).Apply(ctx, a, opts)
				return err
			})
		})
	}
	if o.account != nil {
		deps = append(deps, func() (bool, error) {
			return applyOne(ctx, o.account, "serviceaccounts", ns, accountName, cached, func(ctx context.Context, a *accountConfig, opts metav1.ApplyOptions) error {
				_, err := c.CoreV1().ServiceAccounts(ns).Apply(ctx, a, opts)
				return err
			})
		})
	}
	if o.claim != nil {
		deps = append(deps, func() (bool, error) {
			return applyOne(ctx, o.claim, "persistentvolumeclaims", ns, claimName, cached, func(ctx context.Context, a *claimConfig, opts metav1.ApplyOptions) error {
				_, err := c.CoreV1().PersistentVolumeClaims(ns).Apply(ctx, a, opts)
				return err
			})
		})
	}
	for _, s := range o.secrets {
		deps = append(deps, func() (bool, error) {
			return applyOne(ctx, s, "secrets", ns, *s.Name, cached, func(ctx context.Context, a *secretConfig, opts metav1.ApplyOptions) error {
				_, err := c.CoreV1().Secrets(ns).Apply(ctx, a, opts)
				return err
			})
		})
	}
	if err := phase(deps...); err != nil {
		return writes, err
	}
	var workloads []func() (bool, error)
	for _, d := range o.deployments {
		workloads = append(workloads, func() (bool, error) {
			return applyOne(ctx, d, "deployments", ns, *d.Name, cached, func(ctx context.Context, a *deploymentConfig, opts metav1.ApplyOptions) error {
				_, err := c.AppsV1().Deployments(ns).Apply(ctx, a, opts)
				return err
			})
		})
	}
	return writes, phase(workloads...)
}
