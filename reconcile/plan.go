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
	if current && t.Status.Phase == stamp.PhaseReady && known(obs) {
		// A crashed instance is the driver's to restart (with backoff);
		// stamping the tenant out again would only take it offline.
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

// known reports whether the driver holds the tenant's services, running
// or between restarts. A tenant it knows nothing of (its state was lost)
// must be stamped out again.
func known(obs *stamp.Observed) bool {
	return obs != nil && len(obs.Services) > 0
}
