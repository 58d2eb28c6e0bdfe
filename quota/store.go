package quota

import ()

// FactorTolerance is how close two adaptive factors must be to count as
// equal in [backend.Store.AdjustRateFactor] (stores may keep factors as decimal text).
const FactorTolerance = 1e-9
