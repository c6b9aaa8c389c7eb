package stamp

// Requirement is a command a blueprint needs the host to provide in the
// PATH its tenants get, with an optional minimum version.
type Requirement struct {
	// Command is a program name looked up in the tenants' PATH, or an
	// absolute path.
	Command string `json:"command"`
	// Min is the lowest version accepted, as dotted numbers ("3.11");
	// empty accepts any version.
	Min string `json:"min,omitempty"`
}

// String returns the requirement as a blueprint writes it:
// "python3 >= 3.11", or "pg_dump".
func (r Requirement) String() string {
	if r.Min == "" {
		return r.Command
	}
	return r.Command + " >= " + r.Min
}
