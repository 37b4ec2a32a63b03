package identity

import (
	"context"
	"fmt"
	"time"
)

// tokenKeys returns the keys that may verify a token with header h. A kid
// names a key of this issuer (keysFor). Without a kid the token is refused
// unless the issuer sets KIDOptional, and then only while its key set
// holds exactly one key usable for h.alg: never "try every key", so which
// key verified a token is always determined by the header and the set.
func (is *issuer) tokenKeys(ctx context.Context, now time.Time, h header) ([]verifyKey, error) {
	if h.kid != "" {
		return is.keysFor(ctx, now, h.kid, h.alg)
	}
	if !is.cfg.KIDOptional {
		return nil, invalid(detailNoKID, fmt.Errorf("issuer %q requires a kid header", is.cfg.Issuer))
	}
	ks, err := is.keys(ctx, now)
	if err != nil {
		return nil, err
	}
	var fit []verifyKey
	for _, k := range ks.all {
		if keyFits(k, h.alg) {
			fit = append(fit, k)
		}
	}
	if len(fit) != 1 {
		return nil, invalid(detailKIDAmbiguous, fmt.Errorf("issuer %q has %d keys for %.16q", is.cfg.Issuer, len(fit), h.alg))
	}
	return fit, nil
}
