package stamp

// GCReport is what a garbage collection found that no tenant owns, and
// removed unless it was a dry run.
type GCReport struct {
	DryRun  bool     `json:"dryRun"`
	Removed []GCItem `json:"removed"`
}

// GCItem is one thing no tenant owned: Kind is "runtime" (a runtime's
// processes, ports, directories, cgroup and network namespace, as the
// driver holds them), "database" (an engine's database, files, role or
// snapshot) or "upload" (a backup's upload a killed server left in the
// backup store); Engine names the engine of a database.
type GCItem struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Engine string `json:"engine,omitempty"`
}
