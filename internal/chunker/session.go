package chunker

import (
	"crypto/sha256"
	"encoding/hex"
)

func sessionID(account, sha256hex string) string {
	sum := sha256.Sum256([]byte(account + "\x1f" + sha256hex))
	return hex.EncodeToString(sum[:8])
}
