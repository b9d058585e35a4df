package main

import (
	"context"
	"errors"
	"io"
)

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("status: not implemented yet")
}
