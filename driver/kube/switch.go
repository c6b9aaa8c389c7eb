package kube

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	stamp "github.com/stamphq/stamp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	netv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	netv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	"k8s.io/client-go/tools/cache"
)

// Ingress configures an Ingress per tenant, for users who route with a
// controller of their own instead of the stamp router.
type Ingress struct {
	// Class is the IngressClass of the controller; "" writes none.
	Class string
	// BaseDomain: a tenant's Ingress serves <tenant>.<BaseDomain>.
	BaseDomain string
}

// cacheLag bounds how long Switch waits for the cache to show a
// revision's Deployments.
const cacheLag = 5 * time.Second

// ingressName is the name of a tenant's Ingress.
const ingressName = "stamp"

// ingressConfig is the apply configuration of an Ingress.
type ingressConfig = netv1ac.IngressApplyConfiguration

// public is one public service of a revision, as its Deployment says.
type public struct {
	service  string
	port     int32
	revision string            // as a label value
	labels   map[string]string // the Service's: no revision
}

// Switch points a Service per public service of the tenant, named after
// the service, at the pods of revision rev (its selector names the
// revision: the switch of a blue/green upgrade), and the tenant's
// Ingress at them if the driver writes one. It returns the Services'
// cluster addresses. A Service already pointing at rev is not written.
func (d *Driver) Switch(ctx context.Context, tenant, rev string) ([]string, error) {
	ns := d.ns(tenant)
	pubs, err := d.publicServices(ns, rev)
	// Each kind has its informer: the revision's pods, ready, may be in
	// the cache before its Deployments are. Give the cache a moment.
	for deadline := time.Now().Add(cacheLag); err != nil && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		pubs, err = d.publicServices(ns, rev)
	}
	if err != nil {
		return nil, fmt.Errorf("switch %s to revision %s: %w", tenant, rev, err)
	}
	var endpoints []string
	for _, p := range pubs {
		ep, err := d.switchService(ctx, ns, p)
		if err != nil {
			return nil, fmt.Errorf("switch %s to revision %s: %w", tenant, rev, err)
		}
		endpoints = append(endpoints, ep)
	}
	if d.cfg.Ingress.Class != "" {
		if err := d.applyIngress(ctx, ns, tenant, pubs[0]); err != nil {
			return nil, fmt.Errorf("switch %s to revision %s: %w", tenant, rev, err)
		}
	}
	return endpoints, nil
}

// publicServices returns the public services of revision rev in ns,
// sorted by name, from the Deployments in the cache. None is an error:
// the revision was applied but the cache has not seen it yet, or it
// serves nothing.
func (d *Driver) publicServices(ns, rev string) ([]public, error) {
	objs, err := d.caches["deployments"].ByIndex(cache.NamespaceIndex, ns)
	if err != nil {
		return nil, err
	}
	var out []public
	for _, obj := range objs {
		dep := obj.(*appsv1.Deployment)
		if dep.Labels[LabelRevision] != labelSafe(rev) || dep.Annotations[AnnotationPublic] != "true" {
			continue
		}
		c := dep.Spec.Template.Spec.Containers
		if len(c) == 0 || len(c[0].Ports) == 0 {
			continue
		}
		labels := maps.Clone(dep.Labels)
		delete(labels, LabelRevision) // the Service outlives revisions
		out = append(out, public{service: dep.Labels[LabelService], port: c[0].Ports[0].ContainerPort, revision: dep.Labels[LabelRevision], labels: labels})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no public service of revision %s in namespace %s yet", rev, ns)
	}
	slices.SortFunc(out, func(a, b public) int { return strings.Compare(a.service, b.service) })
	return out, nil
}

// publicOf returns the public services of rt, as publicServices reads
// them from the Deployments Apply writes for rt.
func publicOf(rt *stamp.Runtime, instance string) []public {
	var out []public
	for _, svc := range rt.Services {
		if !svc.Public || svc.Port <= 0 {
			continue
		}
		labels := tenantLabels(instance, rt.Tenant, rt.Bundle)
		labels[LabelService] = svc.Name
		out = append(out, public{service: svc.Name, port: int32(svc.Port), revision: labelSafe(rt.Revision), labels: labels})
	}
	return out
}

// switchService applies the Service of p selecting revision rev's pods
// and returns its cluster address.
func (d *Driver) switchService(ctx context.Context, ns string, p public) (string, error) {
	name := fit(p.service)
	sel := map[string]string{LabelTenant: p.labels[LabelTenant], LabelService: p.service, LabelRevision: p.revision}
	svc := corev1ac.Service(name, ns).WithLabels(p.labels).WithSpec(corev1ac.ServiceSpec().
		WithSelector(sel).
		WithPorts(corev1ac.ServicePort().WithName("http").WithPort(p.port).WithTargetPort(intstr.FromInt32(p.port))))
	var applied *corev1.Service
	_, err := applyOne(ctx, svc, "services", ns, name, d, func(ctx context.Context, a *serviceConfig, opts metav1.ApplyOptions) error {
		var err error
		applied, err = d.cfg.Client.CoreV1().Services(ns).Apply(ctx, a, opts)
		return err
	})
	if err != nil {
		return "", err
	}
	if applied == nil {
		obj, ok, _ := d.caches["services"].GetByKey(ns + "/" + name)
		if !ok {
			return "", fmt.Errorf("service %s/%s is not in the cache", ns, name)
		}
		applied = obj.(*corev1.Service)
	}
	if applied.Spec.ClusterIP == "" || applied.Spec.ClusterIP == corev1.ClusterIPNone {
		return "", fmt.Errorf("service %s/%s has no cluster IP", ns, name)
	}
	return net.JoinHostPort(applied.Spec.ClusterIP, strconv.Itoa(int(p.port))), nil
}

// applyIngress points the tenant's Ingress, for host
// <tenant>.<BaseDomain>, at the Service of p.
func (d *Driver) applyIngress(ctx context.Context, ns, tenant string, p public) error {
	backend := netv1ac.IngressBackend().WithService(netv1ac.IngressServiceBackend().
		WithName(fit(p.service)).WithPort(netv1ac.ServiceBackendPort().WithNumber(p.port)))
	ing := netv1ac.Ingress(ingressName, ns).WithLabels(p.labels).WithSpec(netv1ac.IngressSpec().
		WithIngressClassName(d.cfg.Ingress.Class).
		WithRules(netv1ac.IngressRule().WithHost(tenant + "." + d.cfg.Ingress.BaseDomain).WithHTTP(
			netv1ac.HTTPIngressRuleValue().WithPaths(netv1ac.HTTPIngressPath().
				WithPath("/").WithPathType(netv1.PathTypePrefix).WithBackend(backend)))))
	_, err := applyOne(ctx, ing, "ingresses", ns, ingressName, d, func(ctx context.Context, a *ingressConfig, opts metav1.ApplyOptions) error {
		_, err := d.cfg.Client.NetworkingV1().Ingresses(ns).Apply(ctx, a, opts)
		return err
	})
	return err
}
