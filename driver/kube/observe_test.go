package kube

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stamp "github.com/stamphq/stamp"
)

// TestObservePod reads pods as the API server reports them; kwok marks
// pods ready but plays no crash, so exits are tested on made-up pods.
func TestObservePod(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	terminated := func(reason string, code int32, finished time.Time) corev1.ContainerStatus {
		return corev1.ContainerStatus{RestartCount: 2, LastTerminationState: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code, FinishedAt: metav1.NewTime(finished)}}}
	}
	pod := func(ready bool, statuses ...corev1.ContainerStatus) *corev1.Pod {
		cond := corev1.ConditionFalse
		if ready {
			cond = corev1.ConditionTrue
		}
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web-1-2-0-abc", Annotations: map[string]string{AnnotationRevision: "1.2.0+b.1"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}},
			Status: corev1.PodStatus{PodIP: "10.0.0.7", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: cond}},
				ContainerStatuses: statuses},
		}
	}
	unscheduled := pod(false)
	unscheduled.Status.Conditions = append(unscheduled.Status.Conditions, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient memory."})
	pulling := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
		Reason: "ImagePullBackOff", Message: `Back-off pulling image "registry.example/shop:9"`}}}
	tests := []struct {
		name      string
		pod       *corev1.Pod
		instances int
		restarts  int
		exit      string
		oom       bool
		waiting   string
	}{
		{"ready", pod(true), 1, 0, "", false, ""},
		{"not ready", pod(false), 0, 0, "", false, ""},
		{"out of memory", pod(false, terminated("OOMKilled", 137, at)), 0, 2, "out of memory (OOMKilled): exit status 137", true, ""},
		{"failed", pod(true, terminated("Error", 3, at)), 1, 2, "exit status 3", false, ""},
		{"image not pulled", pod(false, pulling), 0, 0, "", false, `ImagePullBackOff: Back-off pulling image "registry.example/shop:9"`},
		{"unscheduled", unscheduled, 0, 0, "", false, "not scheduled: Unschedulable: 0/3 nodes are available: 3 Insufficient memory."},
	}
	for _, tt := range tests {
		var so stamp.ServiceObserved
		observePod(&so, tt.pod)
		if so.Waiting != tt.waiting {
			t.Errorf("%s: waiting %q, want %q", tt.name, so.Waiting, tt.waiting)
		}
		if len(so.Instances) != tt.instances || so.Restarts != tt.restarts || so.LastExit != tt.exit || so.LastExitOOM != tt.oom {
			t.Errorf("%s: %d instances, %d restarts, exit %q (oom %v); want %d, %d, %q (%v)",
				tt.name, len(so.Instances), so.Restarts, so.LastExit, so.LastExitOOM, tt.instances, tt.restarts, tt.exit, tt.oom)
		}
		if tt.instances == 1 {
			if in := so.Instances[0]; in.Endpoint != "10.0.0.7:8080" || in.Revision != "1.2.0+b.1" {
				t.Errorf("%s: instance %+v, want endpoint 10.0.0.7:8080 of revision 1.2.0+b.1", tt.name, in)
			}
		}
	}
}
