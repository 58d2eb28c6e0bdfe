package quota

import (
	"github.com/videoquota/videoquota/quota/backend"
)

var _ backend.Inspector = (*MemoryStore)(nil)
