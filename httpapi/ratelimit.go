package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/stamphq/stamp"
)

// maxLimiters bounds how many tokens' limiters are kept; past it they
// start afresh (a token's burst is then full again).
const maxLimiters = 10_000

// rateLimits bounds the calls that may change something, per token: a
// token past its rate gets 429 with Retry-After. Reads are not limited.
// Each server counts its own calls.
type rateLimits struct {
	per   rate.Limit // calls per second; 0: no limit
	burst int
	clock stamp.Clock

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// newRateLimits allows perSecond calls a second per token, in bursts of
// twice that; perSecond 0 turns limits off.
func newRateLimits(perSecond float64, clock stamp.Clock) *rateLimits {
	return &rateLimits{per: rate.Limit(perSecond), burst: max(1, int(math.Ceil(2*perSecond))), clock: clock, limiters: map[string]*rate.Limiter{}}
}

// wrap limits h, which its guard has let in.
func (l *rateLimits) wrap(h http.Handler) http.Handler {
	if l.per <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := requestToken(r.Context())
		if tok == nil || !audited(r) {
			h.ServeHTTP(w, r)
			return
		}
		if wait := l.wait(tok.ID); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeError(w, r, stamp.Errorf(stamp.ETOOMANY, "token %s made more than %g changes a second (bursts of %d): try again in %s",
				tok.Name, float64(l.per), l.burst, wait.Round(time.Millisecond)))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// wait takes one call from token id's allowance and returns 0, or, when
// none is left, how long until one is (and takes nothing).
func (l *rateLimits) wait(id string) time.Duration {
	l.mu.Lock()
	lim := l.limiters[id]
	if lim == nil {
		if len(l.limiters) >= maxLimiters {
			clear(l.limiters)
		}
		lim = rate.NewLimiter(l.per, l.burst)
		l.limiters[id] = lim
	}
	l.mu.Unlock()
	now := l.clock.Now()
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}
