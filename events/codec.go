package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// SchemaVersion is the version of the encoding this package writes. A
// changed schema gets a new version; old versions are never edited, and
// [Unmarshal] reads every version since [MinSchemaVersion].
//
// Version 2 changed session.started only: it carries the plan's size and
// fingerprint instead of every chunk of the plan. Every other type is the
// same in both.
const SchemaVersion = 2

// MinSchemaVersion is the oldest version [Unmarshal] reads.
const MinSchemaVersion = 1

// Decoding errors; each marks a poison message.
var (
	ErrUnknownType       = errors.New("events: unknown event type")
	ErrUnsupportedSchema = errors.New("events: unsupported schema version")
	ErrMalformed         = errors.New("events: malformed event body")
)

// SchemaHeader is the value of [HeaderSchema] for [SchemaVersion].
var SchemaHeader = strconv.Itoa(SchemaVersion)

// Marshal encodes e in the current schema. The caller sends the result with
// headers HeaderSchema = SchemaHeader and HeaderType = e.EventType().
func Marshal(e Event) ([]byte, error) {
	var b []byte
	var err error
	if c, ok := e.(*Chunk); ok && c != nil {
		b, err = marshalChunk(c) // the bytes json.Marshal writes, faster
	} else {
		b, err = json.Marshal(e)
	}
	if err != nil {
		return nil, fmt.Errorf("events: marshal %s: %w", e.EventType(), err)
	}
	return b, nil
}

// Unmarshal decodes a message body given its type and schema headers. It
// reads every schema version from [MinSchemaVersion] to [SchemaVersion] and
// returns the current types: a schema-1 session.started, which listed the
// whole plan, reads as its count and [PlanFingerprint].
func Unmarshal(typ, schema string, data []byte) (Event, error) {
	version, err := strconv.Atoi(schema)
	if err != nil || version < MinSchemaVersion || version > SchemaVersion || schema != strconv.Itoa(version) {
		return nil, fmt.Errorf("%w: %q (this build reads %d to %d)", ErrUnsupportedSchema, schema, MinSchemaVersion, SchemaVersion)
	}
	var e Event
	switch Type(typ) {
	case TypeChunk:
		// What json.Unmarshal gives, faster (codec_decode.go).
		c, err := decodeChunk(data)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, typ, err)
		}
		return checkEvent(c)
	case TypeSessionStarted:
		if version == 1 {
			var v1 sessionStartedV1
			if err := json.Unmarshal(data, &v1); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, typ, err)
			}
			return checkEvent(v1.upgrade())
		}
		e = &SessionStarted{}
	case TypeSessionSealed:
		e = &SessionSealed{}
	case TypeSessionFailed:
		e = &SessionFailed{}
	case TypeSessionCancelled:
		e = &SessionCancelled{}
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, typ)
	}
	if err := json.Unmarshal(data, e); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, typ, err)
	}
	return checkEvent(e)
}

// checkEvent refuses a decoded event without an account or session, or with
// an account that is not a subject token.
func checkEvent(e Event) (Event, error) {
	typ := e.EventType()
	if e.EventAccount() == "" || e.EventSession() == "" {
		return nil, fmt.Errorf("%w: %s without account or session", ErrMalformed, typ)
	}
	if err := ValidateAccount(e.EventAccount()); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return e, nil
}
