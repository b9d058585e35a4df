// Package events is foliostream's wire contract: the movement record that every
// statement row becomes, the chunk message that carries one ISO week of them
// through JetStream, the import-session lifecycle events, the subjects they
// travel on and the versioned encoding they travel in.
//
// It sits between the pure core (parsers, chunker, projections) and the
// adapters (the JetStream publisher and consumer, the stores). It holds data
// only: no NATS, no store, no clock. Amounts, prices and quantities are exact
// decimals and travel as decimal strings.
//
// # Encoding
//
// Every message carries two headers: [HeaderSchema] (the schema version, see
// [SchemaVersion]) and [HeaderType] (one of the [Type] values). The body is
// JSON as produced by [Marshal]. A consumer decodes with [Unmarshal], which
// refuses an unknown type ([ErrUnknownType]), a schema it does not speak
// ([ErrUnsupportedSchema]) and a malformed body ([ErrMalformed]): each of those
// is a poison message. docs/events.md documents every field; the golden files
// under testdata/ pin the bytes.
package events
