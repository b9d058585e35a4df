// Package e2e holds the end-to-end tests of the pipeline: statements go
// through ingest (the streams.Importer, in the test process) into an
// embedded NATS JetStream server, a real `projector` process (built from
// cmd/projector) consumes them into its SQLite store, and the `projector`
// subcommands read the result. The tests kill the projector with SIGKILL at
// fault-injection points (FOLIO_PROJECTOR_PAUSE_AT), lock its store, replay
// the stream, and run README's main-job command the way a new user would.
//
// The package has no code of its own: everything is in its tests.
package e2e
