package backend

import (
	"fmt"
)

func formatFloat(f float64) string { return fmt.Sprintf("%g", f) }
