package main

import (
	"context"
	"errors"
	"io"
)

func cmdReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("replay: not implemented yet")
}
