package video

// Tracked returns how many Rooms and Participants c's model holds in
// progress, and how many entries its Room and Participant tables hold in
// all (ended ones kept for late events included).
func Tracked(c *Client) (rooms, parts, entries int) {
	m := c.model()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, st := range m.rooms.All() {
		if st.mark != untracked && !st.ended() {
			rooms++
		}
		for _, p := range st.parts {
			if p.bits&idxOnly == 0 && p.mark != 0 && !p.ended() {
				parts++
			}
		}
	}
	return rooms, parts, m.rooms.Len() + len(m.parts)
}
