package kube

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	long := strings.Repeat("a", 60)
	tests := []struct {
		name, got, want string
	}{
		{"namespace", namespaceOf(DefaultInstance, "acme"), "stamp-acme"},
		{"long namespace keeps a hash", namespaceOf(DefaultInstance, long), "stamp-" + strings.Repeat("a", 48) + "-" + hashOf("stamp-"+long)},
		{"object", objectName("web", "1.2.0"), "web-1-2-0"},
		{"object of a build revision", objectName("web", "1.2.0+Build.5_c2"), "web-1-2-0-build-5-c2"},
		{"label value", labelValue("1.2.0+build.5"), "1.2.0_build.5"},
		{"label value trimmed", labelValue("-x."), "x"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
		if len(tt.got) > maxName {
			t.Errorf("%s: %q is %d long, over %d", tt.name, tt.got, len(tt.got), maxName)
		}
	}
	if namespaceOf(DefaultInstance, long) == namespaceOf(DefaultInstance, long+"b") {
		t.Error("two long tenant names share a namespace")
	}
}
