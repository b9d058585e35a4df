// Command child is the process the proctest tests start: it prints
// "ready" and its arguments on standard error, then exits with the status
// its first argument names, or, with "wait", stays until SIGTERM and exits
// cleanly.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	fmt.Fprintf(os.Stderr, "ready %v\n", os.Args[1:])
	fmt.Println("to stdout")
	if len(os.Args) > 1 && os.Args[1] == "wait" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		<-ctx.Done()
		fmt.Fprintln(os.Stderr, "stopping")
		return
	}
	code := 0
	if len(os.Args) > 1 {
		code, _ = strconv.Atoi(os.Args[1])
	}
	os.Exit(code)
}
