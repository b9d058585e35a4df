package main

import (
	"context"
	"errors"
	"io"
)

func cmdAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("analyze: not implemented yet")
}
