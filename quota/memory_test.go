package quota_test

import (
	"testing"

	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) backend.Store { return newMem(t) })
}
