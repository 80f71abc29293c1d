package server

import "context"

type argKey struct{}

// withArg carries a handler's pre-parsed request body through the context.
func withArg(ctx context.Context, v any) context.Context {
	return context.WithValue(ctx, argKey{}, v)
}

func argOf(ctx context.Context) any {
	return ctx.Value(argKey{})
}
