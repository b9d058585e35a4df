package main

import (
	"context"
	"errors"
	"io"
)

func cmdCompute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("compute: not implemented yet")
}
