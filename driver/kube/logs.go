package kube

import (
	"bufio"
	"context"
	"io"
	"slices"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	stamp "github.com/stamphq/stamp"
)

// Logs reads the logs of the pods of tenant's service through the API
// server (which asks each pod's kubelet), one pod after another, or,
// with opts.Follow, interleaved by line as they come. A pod whose log
// cannot be read is EUNAVAILABLE: the kubelet serves what the pod
// printed, and the driver keeps no copy.
func (d *Driver) Logs(ctx context.Context, tenant, service string, opts stamp.LogOptions) (io.ReadCloser, error) {
	pods, err := d.servicePods(tenant, service)
	if err != nil {
		return nil, err
	}
	po := &corev1.PodLogOptions{Container: service, Follow: opts.Follow}
	if opts.Tail > 0 {
		tail := int64(opts.Tail)
		po.TailLines = &tail
	}
	var streams []io.ReadCloser
	closeAll := func() {
		for _, s := range streams {
			s.Close()
		}
	}
	for _, pod := range pods {
		rc, err := d.cfg.Client.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, po).Stream(ctx)
		if err != nil {
			closeAll()
			// The kubelet of the pod's node serves its log: the API
			// server may not reach it now, or the pod just went.
			return nil, stamp.Errorf(stamp.EUNAVAILABLE, "the log of %s service %s cannot be read now: pod %s: %s", tenant, service, pod.Name, err)
		}
		streams = append(streams, rc)
	}
	if !opts.Follow {
		readers := make([]io.Reader, len(streams))
		for i, s := range streams {
			readers[i] = s
		}
		return readCloser{Reader: io.MultiReader(readers...), close: closeAll}, nil
	}
	return interleave(streams), nil
}

// servicePods returns the pods of tenant's service in the cache, by
// name; a tenant or service the driver does not hold is ENOTFOUND.
func (d *Driver) servicePods(tenant, service string) ([]*corev1.Pod, error) {
	ns := d.ns(tenant)
	if _, ok, _ := d.caches["namespaces"].GetByKey(ns); !ok {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "tenant %s has no namespace", tenant)
	}
	known := false
	deps, _ := d.caches["deployments"].ByIndex(cache.NamespaceIndex, ns)
	for _, obj := range deps {
		known = known || obj.(*appsv1.Deployment).Labels[LabelService] == service
	}
	objs, _ := d.caches["pods"].ByIndex(cache.NamespaceIndex, ns)
	var pods []*corev1.Pod
	for _, obj := range objs {
		if pod := obj.(*corev1.Pod); pod.Labels[LabelService] == service {
			pods = append(pods, pod)
		}
	}
	if !known && len(pods) == 0 {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "tenant %s has no service %s", tenant, service)
	}
	slices.SortFunc(pods, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return pods, nil
}

// readCloser is a Reader closed by a function.
type readCloser struct {
	io.Reader
	close func()
}

func (r readCloser) Close() error {
	r.close()
	return nil
}

// interleave returns a reader of the lines of streams in the order they
// arrive, whole lines never mixed; it ends when every stream has.
func interleave(streams []io.ReadCloser) io.ReadCloser {
	pr, pw := io.Pipe()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Go(func() {
			sc := bufio.NewScanner(s)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				mu.Lock()
				_, err := pw.Write(append(sc.Bytes(), '\n'))
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	go func() {
		wg.Wait()
		pw.Close()
	}()
	return readCloser{Reader: pr, close: func() {
		pr.Close()
		for _, s := range streams {
			s.Close()
		}
	}}
}
