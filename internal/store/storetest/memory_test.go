package storetest_test

import (
	"testing"

	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.NewMemory() })
}
