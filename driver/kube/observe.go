package kube

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	stamp "github.com/stamphq/stamp"
)

// Observe reports the tenant's services from the driver's cache: each
// that has a Deployment or a pod, with its ready pods as its instances
// and the restarts and last exits of all of them. Nothing is asked of the
// API server.
func (d *Driver) Observe(ctx context.Context, tenant string) (*stamp.Observed, error) {
	obs := &stamp.Observed{Tenant: tenant, Services: map[string]*stamp.ServiceObserved{}}
	ns := d.ns(tenant)
	service := func(obj any) *stamp.ServiceObserved {
		m, ok := obj.(metav1.Object)
		name := ""
		if ok && m.GetLabels()[LabelTenant] == tenant {
			name = m.GetLabels()[LabelService]
		}
		if name == "" {
			return nil
		}
		if obs.Services[name] == nil {
			obs.Services[name] = &stamp.ServiceObserved{}
		}
		return obs.Services[name]
	}
	deps, err := d.caches["deployments"].ByIndex(cache.NamespaceIndex, ns)
	if err != nil {
		return nil, fmt.Errorf("observe %s: %w", tenant, err)
	}
	for _, obj := range deps {
		if so := service(obj); so != nil && so.Waiting == "" {
			so.Waiting = deploymentProblem(obj.(*appsv1.Deployment))
		}
	}
	pods, err := d.caches["pods"].ByIndex(cache.NamespaceIndex, ns)
	if err != nil {
		return nil, fmt.Errorf("observe %s: %w", tenant, err)
	}
	for _, obj := range pods {
		if so := service(obj); so != nil {
			observePod(so, obj.(*corev1.Pod))
		}
	}
	obs.Limits = d.limitsInForce(ns)
	for _, so := range obs.Services {
		slices.SortFunc(so.Instances, func(a, b stamp.Instance) int { return strings.Compare(a.ID, b.ID) })
	}
	return obs, nil
}

// limitsInForce reads the limits the tenant's limit range holds its
// containers to: the plan's memory and CPU, which the serving pods
// share. A process limit is the node's (the kubelet's), not the plan's:
// 0. Nil while the cache has no limit range of the tenant.
func (d *Driver) limitsInForce(ns string) *stamp.Limits {
	obj, ok, _ := d.caches["limitranges"].GetByKey(ns + "/" + limitsName)
	if !ok {
		return nil
	}
	l := &stamp.Limits{}
	for _, item := range obj.(*corev1.LimitRange).Spec.Limits {
		if m, ok := item.Max[corev1.ResourceMemory]; ok {
			l.Memory = m.Value()
		}
		if c, ok := item.Max[corev1.ResourceCPU]; ok {
			l.CPU = float64(c.MilliValue()) / 1000
		}
	}
	return l
}

// observePod adds what pod tells of its service to so.
func observePod(so *stamp.ServiceObserved, pod *corev1.Pod) {
	for _, cs := range pod.Status.ContainerStatuses {
		so.Restarts += int(cs.RestartCount)
		t := cs.LastTerminationState.Terminated
		if t == nil || !t.FinishedAt.Time.After(so.LastExitAt) {
			continue
		}
		so.LastExit, so.LastExitAt, so.LastExitOOM = exitText(t), t.FinishedAt.Time, t.Reason == "OOMKilled"
	}
	if pod.DeletionTimestamp != nil {
		return
	}
	if !podReady(pod) {
		if w := podWaiting(pod); w != "" {
			so.Waiting = w
		}
		return
	}
	inst := stamp.Instance{ID: pod.Name, Revision: pod.Annotations[AnnotationRevision]}
	if pod.Status.StartTime != nil {
		inst.StartedAt = pod.Status.StartTime.Time
	}
	if port := containerPort(pod); port > 0 && pod.Status.PodIP != "" {
		inst.Endpoint = net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(port))
	}
	so.Instances = append(so.Instances, inst)
}

// exitText says how a container ended, as the local driver says how a
// process did: "exit status 1", or the reason Kubernetes gives.
func exitText(t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason == "OOMKilled":
		return "out of memory (OOMKilled): exit status " + strconv.Itoa(int(t.ExitCode))
	case t.Signal != 0:
		return "signal " + strconv.Itoa(int(t.Signal))
	case t.Reason != "" && t.Reason != "Error" && t.Reason != "Completed":
		return t.Reason + ": exit status " + strconv.Itoa(int(t.ExitCode))
	}
	return "exit status " + strconv.Itoa(int(t.ExitCode))
}

// podWaiting says why pod is not ready, as Kubernetes reports it: a
// container waiting for a reason other than its creation, or the pod not
// scheduled; "" if it says nothing (the readiness probe fails, or the
// pod is starting).
func podWaiting(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" {
			return strings.TrimSuffix(w.Reason+": "+w.Message, ": ")
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return strings.TrimSuffix("not scheduled: "+c.Reason+": "+c.Message, ": ")
		}
	}
	return ""
}

// deploymentProblem says why a Deployment cannot make its pods (a quota
// refused them), "" if nothing stops it.
func deploymentProblem(d *appsv1.Deployment) string {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			return "pods not created: " + c.Message
		}
	}
	return ""
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// containerPort is the port the pod's service container serves on, 0 if
// none.
func containerPort(pod *corev1.Pod) int {
	for _, c := range pod.Spec.Containers {
		if len(c.Ports) > 0 {
			return int(c.Ports[0].ContainerPort)
		}
	}
	return 0
}
