package video

// SameStripe reports whether c's model serialises the events of Rooms a
// and b under one lock (the stripes are chosen by a seed made per Client).
func SameStripe(c *Client, a, b string) bool {
	m := c.model()
	return m.stripe(a) == m.stripe(b)
}
