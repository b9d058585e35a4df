package main

import (
	"context"
	"errors"
	"io"
)

func cmdSnapshots(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("snapshots: not implemented yet")
}
