// Package acct is the Room accounting of a Client as a pure state machine:
// every input (a create started, answered, refused or of unknown outcome, a
// status callback, a listing, a JoinToken, a store operation's result, the
// clock) goes through [Model.Apply], which returns the store operations to
// run. It does no I/O, reads no clock and takes no lock: the caller runs the
// operations it returns (in any order, concurrently if it likes) and reports
// each one's result back with [Done], as etcd raft's Step and Ready do.
//
// # The law
//
// At every step, whatever order the inputs come in, the store counts at
// least the Rooms that may exist: every Room that exists was reserved (or is
// held under its SID) before anything that stood for it was given back.
// Three rules keep it:
//
//   - A reservation is never given back on a guess about which create a Room
//     belongs to. A Room that a callback shows and nothing claims (no create
//     of its UniqueName, no JoinToken reservation for its name, and no
//     UniqueName of its own: an unnamed create's Room is named after its SID)
//     is held on its own, by SID: an orphan. An unnamed create whose answer
//     was lost is settled only by a source that proves it: its own answer; a
//     listing started after its request window; its TTL; or orphans, one for
//     one, once no unnamed create is in flight any more (see absorb).
//   - Operations never dip: a reservation that a Room's SID replaces is turned
//     into the holding by one [Commit] (the store drops the reservation and
//     holds the SID; committing onto a SID already held only drops the
//     reservation). A give-back that a hold justifies waits for that hold's
//     result. Two operations on one key never run at once: the second waits
//     for the first's [Done], so a Release of an ended Room's SID never
//     reaches the store before the Commit or Hold that put it there.
//   - A JoinToken for a name keeps a Room reservation for that name until its
//     tokens lapse, even while a Room of that name is in progress: that Room
//     can end before the token is used (its room-ended may be lost), and the
//     token's first connect then creates a new Room (ad hoc). A Room of the
//     name that was in progress before the tokens does not take their
//     reservation. The cost is one Room slot per name with tokens
//     outstanding, until every one of them has connected ([TokensUsed]) or
//     they lapse (and, once they lapse, until a listing shows the Rooms they
//     made, or [Config.TTL] passes).
//
// The model is one process's. Absorbing orphans needs to know that no create
// of any process sharing the store is in flight: [Config.Shared] turns it off,
// leaving lost-answer creates to a listing or their TTL (an over-count of at
// most one Room per lost answer until then, never an under-count).
//
// # Several processes on one store
//
// A JoinToken's Room reservation is kept under a key that is the same in
// every process ([Config.TokenKey]), so that whichever process hears a
// token's Participant connect ([Joined]) settles it, by a Commit of that key
// onto the Room's SID. A room-created alone settles no token reservation
// with a shared store: another process's create of the name may have made
// the Room, and a reservation taken for it would leave the token's own Room
// counted by nothing. With [Config.Shared], a name's slot is not kept
// when its Room ends: the process that hears the end cannot know whether
// another process heard the tokens connect, and a slot kept on that doubt
// would stay until the tokens lapse and a listing. The cost is the reverse
// one: with several processes, a token that connects again after its Room
// ended (or one minted by another process while the Room was in progress)
// makes a Room counted from its room-created (or participant-connected)
// callback on, or the next listing if both are lost.
//
// # Time
//
// Times are integers in one unit of the caller's choice (the Client uses Unix
// microseconds): a create's start and send are local times, a Room's creation
// Twilio's, told apart by [Config.Skew].
package acct

import (
	"maps"
	"slices"
	"strconv"
)

// Config is a Model's settings, in the Model's time unit.
type Config struct {
	// Window is the request window: how long after a create was last on the
	// wire Twilio may still create its Room.
	Window int64
	// Skew is how far Twilio's clock and the local one may disagree.
	Skew int64
	// TTL is how long a reservation of unknown outcome is kept (a create's,
	// and lapsed JoinTokens' for their name); the store's reservation of a
	// create lapses then too. Zero: never.
	TTL int64
	// Shared says other processes reserve in the same store: orphans are then
	// never absorbed, and a name's JoinToken slot is not kept when its Room
	// ends (see the package doc).
	Shared bool
	// TokenKey returns the store key of a JoinToken Room reservation for
	// name, the same in every process sharing the store: a Participant
	// connecting to a Room of that name ([Joined]) commits it onto the
	// Room's SID with [Config.Shared], dropping the reservation of
	// whichever process made it. Nil: [Joined] changes nothing.
	TokenKey func(name string) string
}

// OpKind is what a store operation does.
type OpKind uint8

// The store operations.
const (
	// Reserve adds a pending slot under Key, refused at the limit.
	Reserve OpKind = iota + 1
	// Commit drops the reservation Key and holds To, in one store operation.
	Commit
	// Hold holds Key (a Room's SID, or a name's JoinToken reservation), even
	// past the limit.
	Hold
	// Release gives back Key, pending or held.
	Release
)

func (k OpKind) String() string {
	switch k {
	case Reserve:
		return "reserve"
	case Commit:
		return "commit"
	case Hold:
		return "hold"
	case Release:
		return "release"
	}
	return "op(" + strconv.Itoa(int(k)) + ")"
}

// Op is one store operation of the Rooms ledger to run, identified by ID for
// its [Done].
type Op struct {
	ID   uint64
	Kind OpKind
	Key  string
	To   string // Commit's holding key
}

func (o Op) String() string {
	s := o.Kind.String() + " " + o.Key
	if o.Kind == Commit {
		s += "->" + o.To
	}
	return s
}

func (o Op) keys() []string {
	if o.Kind == Commit {
		return []string{o.Key, o.To}
	}
	return []string{o.Key}
}

// Input is one thing the Model learns. The types of this package that end
// in a verb or a noun of an event are the inputs.
type Input interface{ input() }

// CreateStarted is a create of Room Name ("" for an unnamed one) with
// reservation key Key, begun at At (local time). The Model reserves Key; the
// create is sent once that reservation is Done and OK.
type CreateStarted struct {
	ID   uint64
	Key  string
	Name string
	At   int64
}

// Answered is create ID's answer: Twilio created Room SID.
type Answered struct {
	ID  uint64
	SID string
}

// Refused is create ID refused by Twilio (or never sent): no Room.
type Refused struct{ ID uint64 }

// Unknown is create ID returned without an answer; Sent is the last time
// (local) its request was on the wire.
type Unknown struct {
	ID   uint64
	Sent int64
}

// RoomCreated is a room-created callback (or a participant event that shows
// a Room in progress): Room SID, its UniqueName, created at At (Twilio's
// clock).
type RoomCreated struct {
	SID, Name string
	At        int64
}

// RoomEnded is a room-ended callback, or any other source showing Room SID
// ended (a REST answer).
type RoomEnded struct{ SID string }

// Listed is a listing of the Rooms in progress begun at Started (local
// time), complete.
type Listed struct {
	Started int64
	Rooms   []Room
}

// Room is a Room in a listing: its SID, UniqueName and creation time
// (Twilio's date_created).
type Room struct {
	SID, Name string
	Created   int64
}

// TokenMinted is a JoinToken for Room name Name, whose Room reservation (if
// the Model makes one) is under Key; Gen tells this minting from the
// earlier ones of the name (see [TokenDropped]). While the name's
// reservation is pending, it is reserved again all the same (the store
// then only extends its lapse): another process sharing the store may have
// settled it since, hearing an earlier token's Participant connect.
type TokenMinted struct {
	Name, Key string
	Gen       uint64
}

// TokensLapsed says every JoinToken for Name was used or expired at At
// (local time).
type TokensLapsed struct {
	Name string
	At   int64
}

// Done is the result of store operation ID: OK false when the store refused
// it (a Reserve at the limit) or failed.
type Done struct {
	ID uint64
	OK bool
}

// Tick is the local clock: creates of unknown outcome past their TTL lapse.
type Tick struct{ Now int64 }

// Held is Room SID in progress, told by the application (a holding it
// asked for): held by SID, never an orphan, since no create is settled by
// it.
type Held struct{ SID string }

// TokenDropped says that no JoinToken relies on the Room reservation that
// [TokenMinted] for Name with Gen made (every call that wanted it failed):
// the reservation is given back and the name forgotten, unless the name was
// minted again since (a later Gen).
type TokenDropped struct {
	Name string
	Gen  uint64
}

// Joined is a Participant connected to Room SID, whose UniqueName is Name:
// a JoinToken's connect, with a token of this process or of another
// sharing the store. With [Config.Shared], the name's reservation, whoever
// made it, is used up: it is committed onto the Room ([Config.TokenKey]).
// Without, it changes nothing: the process's own tokens are settled by
// their Room's callbacks and [TokensUsed], or their lapse.
// Callers feed the Room first ([RoomCreated]): a Participant shows its Room
// in progress.
type Joined struct{ SID, Name string }

// TokensUsed says that every JoinToken this process minted for Name has
// connected (each one's Participant was heard): the Rooms they made are
// held by SID, so the name's reservation is given back and the name
// forgotten. A token that connects again later is not covered (its Room is
// counted from its callbacks on).
type TokensUsed struct{ Name string }

// Forget drops what the Model remembers of ended Room SID (its tombstone),
// once no late source for it is applied any more. A later input for SID is
// then taken for a Room never seen.
type Forget struct{ SID string }

func (CreateStarted) input() {}
func (Answered) input()      {}
func (Refused) input()       {}
func (Unknown) input()       {}
func (RoomCreated) input()   {}
func (RoomEnded) input()     {}
func (Listed) input()        {}
func (TokenMinted) input()   {}
func (TokensLapsed) input()  {}
func (Done) input()          {}
func (Tick) input()          {}
func (Held) input()          {}
func (TokenDropped) input()  {}
func (Joined) input()        {}
func (TokensUsed) input()    {}
func (Forget) input()        {}

type phase uint8

const (
	reserving phase = iota // Reserve not Done yet: not sent
	inFlight               // sent, no answer yet
	unknown                // returned without an answer
)

type create struct {
	key, name string
	phase     phase
	started   int64
	sent      int64
	settled   bool // a callback committed it (named creates)
}

type room struct {
	name   string
	learnt int64 // local time it was learnt (the latest clock the Model saw)
}

type orphan struct {
	sid string
	at  int64 // Twilio's creation time
}

type token struct {
	key      string // the reservation's store key: base, or base@SID while held for a Room that ended (a store remembers a held key it gave back as ended)
	base     string // the name's key, as minted
	gen      uint64 // the latest minting
	reserved bool   // the reservation is pending or held in the store
	held     bool   // the reservation is a holding (Hold), which Commit does not drop
	lapsed   bool   // every token was used or expired: kept until a listing
	lapsedAt int64  // local time it lapsed
	minted   int64  // local time the reservation was asked for
}

type blocked struct {
	op   Op
	deps []uint64
}

// Model is one process's Room accounting. It is not safe for simultaneous
// use: the caller serialises Apply.
type Model struct {
	cfg      Config
	now      int64 // the latest local time an input carried
	creates  map[uint64]*create
	rooms    map[string]room   // Rooms held (or being held), by SID
	ended    map[string]bool   // tombstones of ended Rooms
	orphans  []orphan          // unclaimed unnamed Rooms held on their own
	listed   int64             // start of the latest listing applied; orphans created before it never absorb
	listings int               // listings applied
	tokens   map[string]*token // names with JoinTokens outstanding
	resOp    map[uint64]uint64 // Reserve op -> create
	tokOp    map[uint64]string // Reserve op -> token name
	againOp  map[uint64]bool   // Reserve ops of a name already reserved
	holdOp   map[uint64]string // Hold or Commit op of a Room -> its SID
	endOp    map[uint64]string // Release op of an ended Room -> its SID
	nextOp   uint64
	last     map[string]uint64 // key -> latest op on it not Done
	open     map[uint64]bool   // ops emitted and not Done
	waiting  []blocked         // ops waiting for others' Done
	out      []Op
	due      int64 // the earliest a create of unknown outcome can lapse; 0: none
	tokDue   int64 // the earliest lapsed tokens' reservation can be given back; 0: none
	greedy   bool  // tests: the rule this package replaced (absorb while creates are in flight)
}

// New returns an empty Model.
func New(cfg Config) *Model {
	return &Model{
		cfg:     cfg,
		creates: make(map[uint64]*create),
		rooms:   make(map[string]room),
		ended:   make(map[string]bool),
		tokens:  make(map[string]*token),
		resOp:   make(map[uint64]uint64),
		tokOp:   make(map[uint64]string),
		againOp: make(map[uint64]bool),
		holdOp:  make(map[uint64]string),
		endOp:   make(map[uint64]string),
		last:    make(map[string]uint64),
		open:    make(map[uint64]bool),
	}
}

// Apply applies in and returns the store operations that may run now. Each
// must be reported back with Done; operations it holds back (waiting for
// another's result) come out of the Apply of that Done.
func (m *Model) Apply(in Input) []Op {
	m.out = nil
	switch in := in.(type) {
	case CreateStarted:
		m.tick(in.At)
		m.creates[in.ID] = &create{key: in.Key, name: in.Name, started: in.At}
		m.resOp[m.emit(Op{Kind: Reserve, Key: in.Key})] = in.ID
	case Answered:
		m.answered(in)
	case Refused:
		if c, ok := m.creates[in.ID]; ok {
			delete(m.creates, in.ID)
			if !c.settled {
				m.emit(Op{Kind: Release, Key: c.key})
			}
		}
	case Unknown:
		m.tick(in.Sent)
		if c, ok := m.creates[in.ID]; ok {
			if c.settled {
				delete(m.creates, in.ID)
				break
			}
			c.phase, c.sent = unknown, in.Sent
			if at := c.started + m.cfg.TTL; m.cfg.TTL > 0 && (m.due == 0 || at < m.due) {
				m.due = at
			}
		}
	case RoomCreated:
		m.roomCreated(in)
	case RoomEnded:
		m.roomEnded(in.SID)
	case Listed:
		m.listing(in)
	case TokenMinted:
		m.tokenMinted(in)
	case TokensLapsed:
		m.tick(in.At)
		if t, ok := m.tokens[in.Name]; ok && !t.lapsed {
			// A token may have connected and made a Room whose callback
			// is lost (or late): the reservation, and what the Model knows
			// of the tokens, stay until a listing shows, or the TTL.
			t.lapsed, t.lapsedAt = true, m.now
			if at := m.now + m.cfg.TTL; m.cfg.TTL > 0 && (m.tokDue == 0 || at < m.tokDue) {
				m.tokDue = at
			}
		}
	case Done:
		m.done(in)
	case Tick:
		m.tick(in.Now)
		m.lapse()
	case Held:
		if !m.ended[in.SID] {
			m.hold(in.SID, "")
		}
	case TokenDropped:
		if t, ok := m.tokens[in.Name]; ok && t.gen == in.Gen {
			delete(m.tokens, in.Name)
			if t.reserved {
				m.emit(Op{Kind: Release, Key: t.key})
			}
		}
	case Joined:
		m.joined(in)
	case TokensUsed:
		if t, ok := m.tokens[in.Name]; ok {
			// Every token connected, and the Room each made or joined is
			// held by SID (or ended): the reservation stands for nothing
			// once those holds are done.
			delete(m.tokens, in.Name)
			if t.reserved {
				m.emitAfter(Op{Kind: Release, Key: t.key}, m.holdsOnTheWay(in.Name, false))
			}
		}
	case Forget:
		delete(m.ended, in.SID)
	}
	m.absorb()
	return m.out
}

func (m *Model) tick(t int64) { m.now = max(m.now, t) }

func (m *Model) answered(in Answered) {
	c, ok := m.creates[in.ID]
	if !ok {
		return
	}
	delete(m.creates, in.ID)
	m.dropOrphan(in.SID) // its creator is known now
	switch {
	case m.ended[in.SID]:
		if !c.settled {
			m.emit(Op{Kind: Release, Key: c.key}) // ended before its answer arrived
		}
	case c.settled:
		// A callback of a Room of that name committed the reservation: if
		// it was this Room, it is held; if an older Room of that name, this
		// one is held on its own.
		m.hold(in.SID, c.name)
	default:
		// One store operation: the reservation becomes the holding (or, if
		// a callback held the SID first, is dropped).
		m.rooms[in.SID] = room{name: c.name, learnt: m.now}
		m.holdOp[m.emit(Op{Kind: Commit, Key: c.key, To: in.SID})] = in.SID
	}
}

func (m *Model) hold(sid, name string) {
	if _, ok := m.rooms[sid]; ok {
		return
	}
	m.rooms[sid] = room{name: name, learnt: m.now}
	m.holdOp[m.emit(Op{Kind: Hold, Key: sid})] = sid
}

func (m *Model) roomCreated(in RoomCreated) {
	if m.ended[in.SID] {
		return // late: the Room ended
	}
	if _, ok := m.rooms[in.SID]; ok {
		return // known (its answer, a listing, a duplicate)
	}
	named := in.Name != "" && in.Name != in.SID
	if named {
		// UniqueName proves the create when it is the only one that can
		// have made the Room: Twilio refuses a second Room of a name in
		// progress (53113), but two creates of one name (or a create and a
		// JoinToken's connect) can each make one, one after the other. A
		// Room more than one of them may have made is held on its own.
		id, n := m.namedCreates(in.Name, in.At)
		t, tok := m.tokens[in.Name]
		if tok && t.lapsed && in.At > t.lapsedAt+m.cfg.Window+m.cfg.Skew {
			tok = false // made after its tokens lapsed: not by them
		}
		if tok && in.At+m.cfg.Skew < t.minted {
			tok = false // in progress before the tokens: not made by them
		}
		switch {
		case n == 1 && !tok && !m.cfg.Shared:
			c := m.creates[id]
			c.settled = true
			if c.phase == unknown {
				delete(m.creates, id)
			}
			m.rooms[in.SID] = room{name: in.Name, learnt: m.now}
			m.holdOp[m.emit(Op{Kind: Commit, Key: c.key, To: in.SID})] = in.SID
		case n == 0 && tok && t.reserved && !m.cfg.Shared:
			// Its tokens' connect made it (no create of the name could; with
			// a shared store, another process's create may have: the
			// token's reservation then waits for a Participant's connect,
			// Joined).
			// The token stays known until a listing after they lapse: its
			// tokens can make another Room of the name once this one ends.
			t.reserved = false
			m.rooms[in.SID] = room{name: in.Name, learnt: m.now}
			if t.held {
				t.held = false
				id := m.emit(Op{Kind: Hold, Key: in.SID})
				m.holdOp[id] = in.SID
				m.emitAfter(Op{Kind: Release, Key: t.key}, []uint64{id})
				t.key = t.base
			} else {
				m.holdOp[m.emit(Op{Kind: Commit, Key: t.key, To: in.SID})] = in.SID
			}
		default:
			m.hold(in.SID, in.Name)
		}
		return
	}
	m.hold(in.SID, in.Name)
	for _, c := range m.creates {
		if c.name == "" {
			// An unnamed create may have made it. (A create begun later
			// cannot: it is started before it is sent.)
			m.orphans = append(m.orphans, orphan{sid: in.SID, at: in.At})
			break
		}
	}
}

// holdsOnTheWay returns the Hold and Commit operations not Done of the
// Rooms of UniqueName name (none for "": Rooms without a UniqueName of their
// own stand for no other), or of every Room when all is set.
func (m *Model) holdsOnTheWay(name string, all bool) []uint64 {
	var ids []uint64
	if all {
		for id := range m.holdOp {
			if m.open[id] {
				ids = append(ids, id)
			}
		}
		return ids
	}
	if name == "" {
		return nil
	}
	for sid, r := range m.rooms {
		if r.name != name || name == sid {
			continue
		}
		if id, busy := m.last[sid]; busy {
			ids = append(ids, id)
		}
	}
	return ids
}

// namedCreates returns how many creates of name not settled may have made
// a Room of that name created at at, and the first of them.
func (m *Model) namedCreates(name string, at int64) (first uint64, n int) {
	for id, c := range m.creates {
		if c.name == name && !c.settled && c.started <= at+m.cfg.Skew {
			if n == 0 || id < first {
				first = id
			}
			n++
		}
	}
	return first, n
}

func (m *Model) roomEnded(sid string) {
	if m.ended[sid] {
		return
	}
	m.ended[sid] = true
	m.dropOrphan(sid)
	r, ok := m.rooms[sid]
	if !ok {
		// The store may hold it all the same (another process's holding,
		// one the Model forgot after a failed operation), and may hold it
		// in place of another Room of its name (a late room-created heard
		// elsewhere took that name's reservation for it): the release
		// waits for every hold on its way, since its name is not known.
		m.endOp[m.emitAfter(Op{Kind: Release, Key: sid}, m.holdsOnTheWay("", true))] = sid
		return
	}
	delete(m.rooms, sid)
	// A Room of a name may stand, in the store, for another Room of that
	// name (a late callback committed the name's reservation onto it):
	// given back after the holds of the name's Rooms on their way.
	deps := m.holdsOnTheWay(r.name, false)
	t, ok := m.tokens[r.name]
	if ok && r.name != "" {
		if id, busy := m.last[t.key]; busy {
			deps = append(deps, id) // the name's reservation is on its way
		}
	}
	if ok && r.name != "" && !t.reserved && !m.cfg.Shared {
		// Tokens for its name are outstanding (or lapsed, and one may have
		// connected and made a Room since, whose callback is still to
		// come): their next connect creates the Room again. The slot stays,
		// as the name's reservation, held before the SID is given back,
		// under a key of its own (base@SID): the store remembers a held key
		// it gave back as ended, and would never hold base again.
		t.reserved, t.held = true, true
		t.key = t.base + "@" + sid
		deps = append(deps, m.emit(Op{Kind: Hold, Key: t.key}))
	}
	m.endOp[m.emitAfter(Op{Kind: Release, Key: sid}, deps)] = sid
}

func (m *Model) listing(in Listed) {
	m.tick(in.Started)
	listed := make(map[string]bool, len(in.Rooms))
	var holds []uint64
	for _, r := range in.Rooms {
		listed[r.SID] = true
		if id, ok := m.last[r.SID]; ok {
			holds = append(holds, id) // its hold (or commit) is still on the way
		}
		if m.ended[r.SID] {
			continue
		}
		if _, ok := m.rooms[r.SID]; ok {
			continue
		}
		before := len(m.out)
		m.roomCreated(RoomCreated{SID: r.SID, Name: r.Name, At: r.Created})
		for _, o := range m.out[before:] {
			holds = append(holds, o.ID)
		}
	}
	// Rooms learnt before the listing began and not in it have ended.
	for _, sid := range slices.Sorted(maps.Keys(m.rooms)) {
		if r := m.rooms[sid]; !listed[sid] && r.learnt < in.Started {
			m.roomEnded(sid)
		}
	}
	// Creates whose request window closed before the listing began: their
	// Room, if any, is in it and held now.
	for _, id := range slices.Sorted(maps.Keys(m.creates)) {
		c := m.creates[id]
		if c.phase == unknown && c.sent+m.cfg.Window < in.Started {
			delete(m.creates, id)
			m.emitAfter(Op{Kind: Release, Key: c.key}, holds)
		}
	}
	// Lapsed JoinToken reservations: a Room their tokens made is in the
	// listing (held above).
	for _, n := range slices.Sorted(maps.Keys(m.tokens)) {
		if t := m.tokens[n]; t.lapsed && t.lapsedAt+m.cfg.Window < in.Started {
			delete(m.tokens, n)
			if t.reserved {
				m.emitAfter(Op{Kind: Release, Key: t.key}, holds)
			}
		}
	}
	kept := m.orphans[:0]
	for _, o := range m.orphans {
		if o.at > in.Started+m.cfg.Skew {
			kept = append(kept, o)
		}
	}
	m.orphans = kept
	m.listed = max(m.listed, in.Started)
	m.listings++
}

func (m *Model) tokenMinted(in TokenMinted) {
	t, ok := m.tokens[in.Name]
	if ok {
		t.lapsed = false // tokens are outstanding again
		t.gen = in.Gen
		if t.reserved {
			if !t.held {
				// Reserved again: while pending, the store only extends its
				// lapse; if another process settled it, it is made anew.
				id := m.emit(Op{Kind: Reserve, Key: t.key})
				m.tokOp[id] = in.Name
				m.againOp[id] = true
			}
			return
		}
		t.key, t.base = in.Key, in.Key
	} else {
		t = &token{key: in.Key, base: in.Key, gen: in.Gen}
		m.tokens[in.Name] = t
	}
	// Reserved even while a Room of the name is held: that Room may have
	// ended unheard (its room-ended lost), and the token's first connect
	// then creates another.
	t.minted = m.now
	t.reserved = true
	m.tokOp[m.emit(Op{Kind: Reserve, Key: in.Key})] = in.Name
}

// joined settles the reservation for the name of the Room a Participant
// connected to, any process's, with a shared store (without one, the
// process's own tokens are settled by their Room's callbacks and
// TokensUsed).
func (m *Model) joined(in Joined) {
	if in.Name == "" || in.Name == in.SID || m.cfg.TokenKey == nil || !m.cfg.Shared {
		return
	}
	key := m.cfg.TokenKey(in.Name)
	if t, ok := m.tokens[in.Name]; ok {
		if t.held {
			return
		}
		t.reserved = false // committed below: a token minted later reserves again
		key = t.key
	}
	if m.ended[in.SID] {
		m.emit(Op{Kind: Release, Key: key}) // its Room ended: nothing to hold
		return
	}
	if _, held := m.rooms[in.SID]; held {
		m.emit(Op{Kind: Commit, Key: key, To: in.SID}) // only the reservation goes
		return
	}
	m.rooms[in.SID] = room{name: in.Name, learnt: m.now}
	m.holdOp[m.emit(Op{Kind: Commit, Key: key, To: in.SID})] = in.SID
}

func (m *Model) lapse() {
	if m.cfg.TTL > 0 && m.tokDue != 0 && m.now >= m.tokDue {
		m.lapseTokens()
	}
	if m.cfg.TTL <= 0 || m.due == 0 || m.now < m.due {
		return // nothing can lapse yet: the clock costs nothing per input
	}
	m.due = 0
	for _, id := range slices.Sorted(maps.Keys(m.creates)) {
		c := m.creates[id]
		if c.phase == unknown && c.started+m.cfg.TTL > m.now && (m.due == 0 || c.started+m.cfg.TTL < m.due) {
			m.due = c.started + m.cfg.TTL
		}
		if c.phase == unknown && c.started+m.cfg.TTL <= m.now {
			delete(m.creates, id)
			m.emit(Op{Kind: Release, Key: c.key}) // lapsed in the store as well
			// Orphans it could have created no longer stand for a create.
			kept := m.orphans[:0]
			for _, o := range m.orphans {
				if !m.couldCreate(c, o) {
					kept = append(kept, o)
				}
			}
			m.orphans = kept
		}
	}
}

// lapseTokens forgets the names whose tokens lapsed a TTL ago, giving
// their reservations back: with no listing, a Room their tokens made whose
// callbacks were all lost is counted by nothing after that (as a create's
// of unknown outcome after its TTL).
func (m *Model) lapseTokens() {
	m.tokDue = 0
	for _, n := range slices.Sorted(maps.Keys(m.tokens)) {
		t := m.tokens[n]
		if !t.lapsed {
			continue
		}
		if at := t.lapsedAt + m.cfg.TTL; at > m.now {
			if m.tokDue == 0 || at < m.tokDue {
				m.tokDue = at
			}
			continue
		}
		delete(m.tokens, n)
		if t.reserved {
			m.emit(Op{Kind: Release, Key: t.key})
		}
	}
}

func (m *Model) dropOrphan(sid string) {
	m.orphans = slices.DeleteFunc(m.orphans, func(o orphan) bool { return o.sid == sid })
}

// couldCreate reports whether unnamed create c may have created orphan o.
func (m *Model) couldCreate(c *create, o orphan) bool {
	return c.started <= o.at+m.cfg.Skew && o.at <= c.sent+m.cfg.Window+m.cfg.Skew
}

// absorb settles unnamed creates of unknown outcome with orphans, one for
// one, once no unnamed create is in flight: every orphan is then the Room of
// a create of unknown outcome (no other create is left to have made it), a
// different one for each, so at most |unknown| - |orphans| of their Rooms
// can be hidden, and that many reservations stay. Each is a Commit of the
// reservation onto the orphan's SID: the store never counts less in between.
func (m *Model) absorb() {
	if m.cfg.Shared || len(m.orphans) == 0 {
		return
	}
	var cands []uint64
	for id, c := range m.creates {
		if c.name != "" {
			continue
		}
		if c.phase != unknown && !m.greedy {
			return // in flight: it may have made any orphan
		}
		if c.phase != unknown {
			continue
		}
		cands = append(cands, id)
	}
	if len(cands) == 0 {
		return
	}
	slices.Sort(cands)
	kept := m.orphans[:0]
	for _, o := range m.orphans {
		if m.listings > 0 && o.at <= m.listed+m.cfg.Skew {
			continue // its creator may have been settled by the listing
		}
		// The create whose window closes first, of those that may have made it.
		best := -1
		for i, id := range cands {
			c := m.creates[id]
			if m.couldCreate(c, o) && (best < 0 || c.sent < m.creates[cands[best]].sent) {
				best = i
			}
		}
		if best < 0 {
			kept = append(kept, o)
			continue
		}
		c := m.creates[cands[best]]
		delete(m.creates, cands[best])
		cands = slices.Delete(cands, best, best+1)
		m.emit(Op{Kind: Commit, Key: c.key, To: o.sid})
	}
	m.orphans = kept
}

// emit queues op to run once every earlier op on its keys is Done, and
// returns its ID.
func (m *Model) emit(op Op) uint64 { return m.emitAfter(op, nil) }

func (m *Model) emitAfter(op Op, deps []uint64) uint64 {
	m.nextOp++
	op.ID = m.nextOp
	deps = slices.Clone(deps)
	for _, k := range op.keys() {
		if id, ok := m.last[k]; ok {
			deps = append(deps, id)
		}
		m.last[k] = op.ID
	}
	m.open[op.ID] = true
	deps = slices.DeleteFunc(deps, func(id uint64) bool { return !m.open[id] })
	if len(deps) == 0 {
		m.out = append(m.out, op)
	} else {
		m.waiting = append(m.waiting, blocked{op: op, deps: deps})
	}
	return op.ID
}

func (m *Model) done(in Done) {
	if !m.open[in.ID] {
		return
	}
	delete(m.open, in.ID)
	for k, id := range m.last {
		if id == in.ID {
			delete(m.last, k)
		}
	}
	if sid, ok := m.holdOp[in.ID]; ok {
		delete(m.holdOp, in.ID)
		if !in.OK && !m.ended[sid] {
			// The store does not hold it: forgotten, so that the next
			// source that shows it holds it again.
			delete(m.rooms, sid)
		}
	}
	if sid, ok := m.endOp[in.ID]; ok {
		delete(m.endOp, in.ID)
		if !in.OK {
			// The store may still hold it: the next source that shows it
			// ended releases it again.
			delete(m.ended, sid)
		}
	}
	if cid, ok := m.resOp[in.ID]; ok {
		delete(m.resOp, in.ID)
		if c, ok := m.creates[cid]; ok && c.phase == reserving {
			if in.OK {
				c.phase = inFlight
			} else {
				// Refused at the quota, or the store failed: never sent.
				// A store that failed may have taken it before its answer
				// was lost: given back.
				delete(m.creates, cid)
				m.emit(Op{Kind: Release, Key: c.key})
			}
		}
	}
	if name, ok := m.tokOp[in.ID]; ok {
		delete(m.tokOp, in.ID)
		again := m.againOp[in.ID]
		delete(m.againOp, in.ID)
		switch t, ok := m.tokens[name]; {
		case !ok || in.OK:
		case again:
			// Not pending any more (another process settled it) and
			// refused: the name has no reservation now.
			t.reserved = false
		case t.key != "":
			delete(m.tokens, name) // refused at the quota: no token
		}
	}
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(m.waiting); i++ {
			b := &m.waiting[i]
			b.deps = slices.DeleteFunc(b.deps, func(id uint64) bool { return !m.open[id] })
			if len(b.deps) == 0 {
				m.out = append(m.out, b.op)
				m.waiting = slices.Delete(m.waiting, i, i+1)
				i--
				changed = true
			}
		}
	}
}

// Creates returns how many creates are not settled: in flight or of
// unknown outcome.
func (m *Model) Creates() int { return len(m.creates) }

// Creating reports whether a create of Room name is not settled: in
// flight or of unknown outcome.
func (m *Model) Creating(name string) bool {
	for _, c := range m.creates {
		if c.name == name && !c.settled {
			return true
		}
	}
	return false
}

// Holds reports whether the Model holds Room sid.
func (m *Model) Holds(sid string) bool {
	_, ok := m.rooms[sid]
	return ok
}

// Idle reports whether every operation the Model emitted is Done.
func (m *Model) Idle() bool { return len(m.open) == 0 }

// Clone returns a deep copy of m.
func (m *Model) Clone() *Model {
	c := *m
	c.creates = make(map[uint64]*create, len(m.creates))
	for id, v := range m.creates {
		cp := *v
		c.creates[id] = &cp
	}
	c.rooms = maps.Clone(m.rooms)
	c.ended = maps.Clone(m.ended)
	c.orphans = slices.Clone(m.orphans)
	c.tokens = make(map[string]*token, len(m.tokens))
	for n, t := range m.tokens {
		cp := *t
		c.tokens[n] = &cp
	}
	c.resOp = maps.Clone(m.resOp)
	c.tokOp = maps.Clone(m.tokOp)
	c.againOp = maps.Clone(m.againOp)
	c.holdOp = maps.Clone(m.holdOp)
	c.endOp = maps.Clone(m.endOp)
	c.last = maps.Clone(m.last)
	c.open = maps.Clone(m.open)
	c.waiting = make([]blocked, len(m.waiting))
	for i, b := range m.waiting {
		c.waiting[i] = blocked{op: b.op, deps: slices.Clone(b.deps)}
	}
	c.out = nil
	return &c
}
