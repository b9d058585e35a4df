package main

import (
	"context"
	"errors"
	"io"
)

func cmdWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("watch: not implemented yet")
}
