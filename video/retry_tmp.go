package video

// retryPolicy is replaced by backoff.Policy once package backoff lands.
type retryPolicy struct{}

func defaultRetryPolicy() retryPolicy { return retryPolicy{} }
