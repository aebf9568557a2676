package wiring

import (
	"context"
	"log/slog"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
)

// BusURL is the NATS URL agents dial: the director's embedded server, or
// the external server named in a configuration.
type BusURL string

// App builds an fx application from modules, logging through log.
func App(log *slog.Logger, modules ...fx.Option) *fx.App {
	opts := []fx.Option{
		fx.Supply(log),
		fx.WithLogger(func() fxevent.Logger {
			l := &fxevent.SlogLogger{Logger: log.With("component", "fx")}
			l.UseLogLevel(slog.LevelDebug)
			return l
		}),
	}
	return fx.New(append(opts, modules...)...)
}

// runner is a daemon: Run blocks until ctx ends.
type runner interface {
	Run(ctx context.Context) error
}

// launch runs r between the start and stop hooks; if Run fails, the whole
// application shuts down with exit code 1.
func launch(lc fx.Lifecycle, sh fx.Shutdowner, log *slog.Logger, name string, start func(context.Context) (runner, error), stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(startCtx context.Context) error {
			r, err := start(startCtx)
			if err != nil {
				close(done)
				return err
			}
			go func() {
				defer close(done)
				if err := r.Run(ctx); err != nil {
					log.Error(name+" stopped", "err", err)
					_ = sh.Shutdown(fx.ExitCode(1))
				}
			}()
			return nil
		},
		OnStop: func(stopCtx context.Context) error {
			cancel()
			select {
			case <-done:
			case <-stopCtx.Done():
				return stopCtx.Err()
			}
			if stop != nil {
				stop()
			}
			return nil
		},
	})
}
