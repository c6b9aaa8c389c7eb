package health

import (
	"fmt"
	"net/netip"
	"strings"
)

// ListenHint explains a health check that found nothing at expected, the
// host:port instance id of service was given, by where its processes
// listen instead (listening, as a driver reports it). It returns "" when
// one of them listens at expected (on its address or on every address):
// the app is where it should be, and the fault lies elsewhere.
func ListenHint(service, expected string, listening []string) string {
	want, err := netip.ParseAddrPort(expected)
	if err != nil {
		return ""
	}
	for _, l := range listening {
		got, err := netip.ParseAddrPort(l)
		if err == nil && got.Port() == want.Port() && (got.Addr() == want.Addr() || got.Addr().IsUnspecified()) {
			return ""
		}
	}
	where := "no TCP port"
	if len(listening) > 0 {
		where = strings.Join(listening, ", ")
	}
	return fmt.Sprintf("expected %s to listen on %s, but its processes listen on %s", service, expected, where)
}
