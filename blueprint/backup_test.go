package blueprint

import (
	"strings"
	"testing"
	"time"
)

const backupBlueprint = `name: app
version: 1.0.0
plans:
  small: {}
  big: { backup: { every: 24h, keep: 7 } }
default_plan: small
services:
  web:
    command: [bin/app]
`

func TestPlanBackup(t *testing.T) {
	b, err := Parse("stamp.yaml", []byte(backupBlueprint))
	if err != nil {
		t.Fatal(err)
	}
	if b.Plans["small"].Backup != nil {
		t.Errorf("a plan without backup has a schedule: %+v", b.Plans["small"].Backup)
	}
	if got := b.Plans["big"].Backup; got == nil || *got != (BackupSchedule{Every: 24 * time.Hour, Keep: 7}) {
		t.Errorf("big's schedule: %+v", got)
	}
}

func TestPlanBackupInvalid(t *testing.T) {
	for _, tt := range []struct{ new, want string }{
		{"backup: { every: 10m, keep: 7 }", "plans.big.backup.every: must be at least 1h0m0s, not 10m0s"},
		{"backup: { every: 24h, keep: 0 }", "plans.big.backup.keep: must be between 1 and 1000, not 0"},
		{"backup: { every: 24h }", "plans.big.backup: needs both every (how often, e.g. 24h) and keep"},
		{"backup: { every: daily, keep: 7 }", "plans.big.backup.every:"},
		{"backup: { every: 24h, keep: 7, at: 3am }", "plans.big.backup.at: unknown key"},
		{"backup: nightly", "plans.big.backup:"},
	} {
		_, err := Parse("stamp.yaml", []byte(strings.Replace(backupBlueprint, "backup: { every: 24h, keep: 7 }", tt.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.new, err, tt.want)
		}
	}
}
