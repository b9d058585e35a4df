package events

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// One movement's JSON object, on its own: what a chunk message carries for
// a movement, for a store that keeps each movement as a document. The
// encoder and the decoder are the chunk codec's (codec_encode.go,
// codec_decode.go); codec_movement_test.go compares them with
// encoding/json, FuzzMovementDecode on arbitrary input.

// Omit is a set of members [AppendMovementJSON] leaves out of a movement's
// object: the ones a store keeps beside the document (as columns) and
// fills in before it decodes the document.
type Omit uint8

// The members an [Omit] set can name.
const (
	OmitID Omit = 1 << iota
	OmitAccount
	OmitKind
	OmitLine
)

// AppendMovementJSON appends m's JSON object to dst and returns the
// extended slice: the bytes json.Marshal(m) writes (those of the movement in
// a chunk body, [Marshal]), without the members omit names.
func AppendMovementJSON(dst []byte, m *Movement, omit Omit) []byte {
	if !decimalDefaults() {
		return appendMovementReflect(dst, m, omit)
	}
	var enc chunkEncoder
	return enc.appendMovementOmit(dst, m, omit)
}

// appendMovementReflect is AppendMovementJSON through encoding/json, for
// decimal settings the hand encoder does not write.
func appendMovementReflect(dst []byte, m *Movement, omit Omit) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		// A Movement holds strings, ints, decimals and times: encoding it
		// cannot fail.
		panic(fmt.Sprintf("events: encode movement %s: %v", m.ID, err))
	}
	if omit == 0 {
		return append(dst, b...)
	}
	// The members in order, without the omitted ones (a map would sort
	// them).
	skip := map[string]bool{"id": omit&OmitID != 0, "account": omit&OmitAccount != 0,
		"kind": omit&OmitKind != 0, "line": omit&OmitLine != 0}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.Token() // {
	dst = append(dst, '{')
	first := true
	for dec.More() {
		k, _ := dec.Token()
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			panic(fmt.Sprintf("events: encode movement %s: %v", m.ID, err))
		}
		key := k.(string)
		if skip[key] {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, key)
		dst = append(dst, ':')
		dst = append(dst, v...)
	}
	return append(dst, '}')
}

// A MovementDecoder decodes movement objects one after another, sharing
// equal strings and decimals between the movements it decodes (a history repeats its accounts, tickers, kinds and
// amounts) instead of allocating each anew. The caller may reuse data
// after Decode returns. The zero MovementDecoder is ready to use; it is
// not safe for concurrent use.
type MovementDecoder struct {
	d chunkDecoder
}

// Decode decodes a movement's JSON object into m, over the values m already
// has, as json.Unmarshal(data, m) does, for the fields f holds (every field
// for the zero Fields) and the identity and order fields (ID, Account,
// Kind, Time, Seq, Part). The values of other members are skipped as JSON
// values without being decoded: data must be valid JSON, but a member f
// does not ask for may hold what its field would refuse.
func (md *MovementDecoder) Decode(data []byte, m *Movement, f Fields) error {
	d := &md.d
	d.data, d.pos, d.owned = data, 0, true
	defer func() { d.data = nil }()
	d.skipWS()
	switch d.peek() {
	case '{':
		if err := d.movementFields(m, 1, f); err != nil {
			return fmt.Errorf("%w: movement: %v", ErrMalformed, err)
		}
	case 'n':
		if err := d.literal("null"); err != nil {
			return fmt.Errorf("%w: movement: %v", ErrMalformed, err)
		}
	default:
		if d.pos == len(data) {
			return fmt.Errorf("%w: movement: %v", ErrMalformed, d.errorf("unexpected end of input"))
		}
		return fmt.Errorf("%w: movement: %v", ErrMalformed, d.errorf("a movement must be a JSON object"))
	}
	d.skipWS()
	if d.pos != len(data) {
		return fmt.Errorf("%w: movement: %v", ErrMalformed, d.errorf("invalid character %q after top-level value", data[d.pos]))
	}
	return nil
}
