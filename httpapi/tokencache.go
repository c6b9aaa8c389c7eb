package httpapi

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/stamphq/stamp"
)

// maxCachedTokens bounds a TokenCache; past it, it starts afresh.
const maxCachedTokens = 10_000

// maxTokenAge is how long a token is kept before it is read again: the
// bound on a revocation's reach should the store's notice be lost
// without the watch knowing (a connection dead but not closed).
const maxTokenAge = time.Minute

// TokenCache keeps the tokens requests came with, by hash, so that a
// request needs no store read to be authorized. It caches only while
// its store tells it of every revocation (see Watch), and forgets
// everything at each one: a revoked token fails on this server at once,
// on others as soon as the store's notice reaches them (PostgreSQL's
// NOTIFY: milliseconds), and at worst after maxTokenAge, should a notice
// be lost unknown to the watch. Expiry needs no notice: a token's ExpiresAt is
// checked at every request. Unknown secrets are not cached.
type TokenCache struct {
	log *slog.Logger

	mu       sync.Mutex
	watching bool
	gen      uint64 // counts resets: a read from before one is not kept
	tokens   map[string]cachedToken
}

// cachedToken is a token and when it was read from the store.
type cachedToken struct {
	tok  *stamp.Token
	read time.Time
}

// NewTokenCache returns a cache that keeps nothing until Watch runs.
func NewTokenCache(log *slog.Logger) *TokenCache {
	if log == nil {
		log = slog.Default()
	}
	return &TokenCache{log: log, tokens: map[string]cachedToken{}}
}

// Watch follows w's revocations until ctx ends, and returns nil then.
func (c *TokenCache) Watch(ctx context.Context, w stamp.TokenWatcher) error {
	w.WatchTokens(ctx, c.reset)
	return nil
}

// reset forgets every token, and caches from now on only if watching.
func (c *TokenCache) reset(watching bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.watching && !watching:
		c.log.Warn("token revocations cannot be watched (the store's connection is lost): every request reads its token from the store until they can")
	case !c.watching && watching && c.gen > 0:
		c.log.Info("watching token revocations again: tokens are kept in memory")
	}
	c.watching = watching
	c.gen++
	clear(c.tokens)
}

// forget forgets every token: one was revoked here.
func (c *TokenCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.tokens)
}

// get returns the token cached for hash, nil if none, and the
// generation a token read from the store now is to be put with.
func (c *TokenCache) get(hash string) (*stamp.Token, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.tokens[hash]; ok && time.Since(e.read) < maxTokenAge {
		return e.tok, c.gen
	}
	return nil, c.gen
}

// put keeps tok under hash, unless the cache was reset since gen.
func (c *TokenCache) put(hash string, tok *stamp.Token, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.watching || gen != c.gen {
		return
	}
	if len(c.tokens) >= maxCachedTokens {
		clear(c.tokens)
	}
	c.tokens[hash] = cachedToken{tok, time.Now()}
}
