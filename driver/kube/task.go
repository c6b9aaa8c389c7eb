package kube

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/tools/cache"

	stamp "github.com/stamphq/stamp"
)

// LabelTask names the task a Job and its pod run.
const LabelTask = "stamp.dev/task"

// taskOutputLines is how much of a task's log its result keeps.
const taskOutputLines = 40

// RunTask runs task as a Job named after it, in the tenant's namespace,
// and waits for it. The name holds the generation (seed-g3), so a Job of
// that name that exists already is the earlier run: its result is
// returned, or waited for, and the task never runs twice. A task past
// its Timeout is ended by the Job's active deadline and reported with
// ExitCode -1. Only a failed task's result holds its output: reading a
// pod's log is a request to its node, spent on what nobody reads.
func (d *Driver) RunTask(ctx context.Context, tenant string, task *stamp.Task) (*stamp.TaskResult, error) {
	if task == nil || task.Name == "" {
		return nil, stamp.Errorf(stamp.EINVALID, "task of %s has no name", tenant)
	}
	if task.Image == "" {
		return nil, stamp.Errorf(stamp.EINVALID, "task %s of %s has no image: the kubernetes driver runs container images", task.Name, tenant)
	}
	ns := d.ns(tenant)
	name := fit("task-" + labelSafe(task.Name))
	labels := tenantLabels(d.cfg.Instance, tenant, task.Bundle)
	labels[LabelTask] = name
	if err := d.ensureTenant(ctx, tenant, task); err != nil {
		return nil, err
	}
	secret := corev1ac.Secret(name, ns).WithLabels(labels).WithType(corev1.SecretTypeOpaque).
		WithStringData(env(stamp.Service{Env: task.Env, NoPortEnv: true}))
	if _, err := applyOne(ctx, secret, "secrets", ns, name, d, func(ctx context.Context, a *secretConfig, opts metav1.ApplyOptions) error {
		_, err := d.cfg.Client.CoreV1().Secrets(ns).Apply(ctx, a, opts)
		return err
	}); err != nil {
		return nil, fmt.Errorf("run task %s of %s: %w", task.Name, tenant, err)
	}
	if _, ok, _ := d.caches["jobs"].GetByKey(ns + "/" + name); !ok {
		if _, err := d.cfg.Client.BatchV1().Jobs(ns).Apply(ctx, job(ns, name, labels, task), applyOptions); err != nil {
			return nil, fmt.Errorf("run task %s of %s: apply job %s/%s: %w", task.Name, tenant, ns, name, err)
		}
	}
	j, err := d.waitJob(ctx, ns, name)
	if err != nil {
		return nil, fmt.Errorf("run task %s of %s: %w", task.Name, tenant, err)
	}
	return d.taskResult(ctx, j), nil
}

// job is the Job that runs task once: no retry (a hook that failed is
// failed, as on the local driver), bounded by the task's timeout.
func job(ns, name string, labels map[string]string, task *stamp.Task) *batchv1ac.JobApplyConfiguration {
	uid := runAs(task.UID)
	c := container("task", task.Image, name, task.Command, uid)
	spec := batchv1ac.JobSpec().WithBackoffLimit(0).WithTemplate(corev1ac.PodTemplateSpec().WithLabels(labels).
		WithSpec(podSpec(c, uid).WithRestartPolicy(corev1.RestartPolicyNever)))
	if task.Timeout > 0 {
		spec.WithActiveDeadlineSeconds(int64(seconds(task.Timeout.Seconds())))
	}
	return batchv1ac.Job(name, ns).WithLabels(labels).WithSpec(spec)
}

// ensureTenant applies what a hook's pod needs of its tenant where the
// cache has no claim yet, as a hook runs before the tenant's first
// Apply: the namespace, service account and data claim, and the bounds
// every pod of the tenant is held to (network policy, quota, limit
// range). The objects are those Apply writes but for the quota and
// limit range, which Apply sizes for the tenant's services.
func (d *Driver) ensureTenant(ctx context.Context, tenant string, task *stamp.Task) error {
	ns := d.ns(tenant)
	if _, ok, _ := d.caches["persistentvolumeclaims"].GetByKey(ns + "/" + claimName); ok {
		return nil
	}
	o, err := desired(&stamp.Runtime{Tenant: tenant, Bundle: task.Bundle, Limits: task.Limits, Outbound: task.Outbound}, d.cfg)
	if err != nil {
		return err
	}
	_, err = apply(ctx, d.cfg.Client, o, d)
	return err
}

// waitJob waits, on the cache, until Job ns/name has finished.
func (d *Driver) waitJob(ctx context.Context, ns, name string) (*batchv1.Job, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if obj, ok, _ := d.caches["jobs"].GetByKey(ns + "/" + name); ok {
			if j := obj.(*batchv1.Job); jobFinished(j) != "" {
				return j, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for job %s/%s: %w", ns, name, ctx.Err())
		case <-tick.C:
		}
	}
}

// jobFinished returns the condition a Job finished with (Complete,
// Failed), "" while it runs.
func jobFinished(j *batchv1.Job) batchv1.JobConditionType {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type
		}
	}
	return ""
}

// taskResult reads how a finished Job's task ended: its pod's exit code
// (-1 past its deadline) and the end of its log.
func (d *Driver) taskResult(ctx context.Context, j *batchv1.Job) *stamp.TaskResult {
	res := &stamp.TaskResult{}
	if jobFinished(j) == batchv1.JobFailed {
		res.ExitCode = 1
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobFailed && c.Reason == batchv1.JobReasonDeadlineExceeded {
				res.ExitCode = -1
			}
		}
	}
	pods, _ := d.caches["pods"].ByIndex(cache.NamespaceIndex, j.Namespace)
	for _, obj := range pods {
		pod := obj.(*corev1.Pod)
		if pod.Labels[LabelTask] != j.Labels[LabelTask] {
			continue
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && res.ExitCode != -1 {
				res.ExitCode = int(t.ExitCode)
			}
		}
		if res.ExitCode == 0 {
			continue // the output of a hook that succeeded goes unread
		}
		if w := podWaiting(pod); w != "" {
			// Ended by its deadline before it ran: say why it did not.
			res.Output = fmt.Sprintf("(pod %s did not run: %s)", pod.Name, w)
			continue
		}
		res.Output = d.tail(ctx, pod)
	}
	return res
}

// tail returns the last lines of pod's log, or says why there are none
// (a simulated kubelet serves no logs).
func (d *Driver) tail(ctx context.Context, pod *corev1.Pod) string {
	lines := int64(taskOutputLines)
	rc, err := d.cfg.Client.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{TailLines: &lines}).Stream(ctx)
	if err != nil {
		return fmt.Sprintf("(no log of pod %s: %s)", pod.Name, strings.TrimSpace(err.Error()))
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 64<<10))
	return string(b)
}
