package quota_test

import (
	"testing"

	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/storetest"
)

func TestMemoryStoreInspector(t *testing.T) {
	storetest.RunInspector(t, func(t *testing.T) backend.Store { return newMem(t) })
}
