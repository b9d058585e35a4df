package e2e

import (
	"os"
	"testing"

	"github.com/foliostream/foliostream/internal/proctest"
)

// Paths relative to this package's directory.
const (
	repoRoot  = "../.."
	oracleDir = "../../../shared/testdata/oracle"
)

// TestMain removes the binaries the tests built (proctest.Build).
func TestMain(m *testing.M) { os.Exit(proctest.Main(m)) }
