package reconcile

import stamp "github.com/stamphq/stamp"

// Plan decides which steps bring tenant t from what obs shows to its spec.
// It only decides; Reconciler.reconcile does. An empty plan means t is
// converged (or failed for good at its current generation).
func Plan(t *stamp.Tenant, obs *stamp.Observed) []string {
	if t.Spec.Desired == stamp.DesiredDeleted {
		return []string{stamp.StepRemove}
	}
	current := t.Status.ObservedGeneration == t.Generation
	if current && t.Status.Phase == stamp.PhaseFailed {
		return nil
	}
	if current && t.Status.Phase == stamp.PhaseReady && running(obs) {
		return nil
	}
	steps := []string{stamp.StepAllocate, stamp.StepSecrets, stamp.StepDatabase}
	if t.Status.MigratedVersion != t.Spec.Version {
		steps = append(steps, stamp.StepMigrate)
	}
	if !t.Status.Seeded {
		steps = append(steps, stamp.StepSeed)
	}
	return append(steps, stamp.StepStart, stamp.StepHealth, stamp.StepRoute)
}

// running reports whether the driver runs at least one instance of every
// service it knows for the tenant. A tenant the driver knows nothing of is
// not running.
func running(obs *stamp.Observed) bool {
	if obs == nil || len(obs.Services) == 0 {
		return false
	}
	for _, s := range obs.Services {
		if len(s.Instances) == 0 {
			return false
		}
	}
	return true
}
