package datapath

import (
	"context"
	"io"

	"golang.org/x/time/rate"
)

// limitBurst is the most a rate-limited writer sends at once.
const limitBurst = 64 << 10

// LimitWriter caps writes to w at bps bytes per second (Bareos's Maximum
// Bandwidth Per Job). ctx ends a wait early. bps <= 0 returns w itself.
func LimitWriter(ctx context.Context, w io.Writer, bps int64) io.Writer {
	if bps <= 0 {
		return w
	}
	burst := int(min(bps, limitBurst))
	return &limitedWriter{ctx: ctx, w: w, lim: rate.NewLimiter(rate.Limit(bps), burst), burst: burst}
}

type limitedWriter struct {
	ctx   context.Context
	w     io.Writer
	lim   *rate.Limiter
	burst int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), l.burst)
		if err := l.lim.WaitN(l.ctx, k); err != nil {
			return n, err
		}
		m, err := l.w.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}
