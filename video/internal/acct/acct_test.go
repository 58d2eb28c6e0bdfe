package acct

import (
	"fmt"
	"slices"
	"testing"
)

// run applies ins to a Model, reporting every operation as Done (OK) as
// soon as it is emitted unless hold says to keep it, and returns the
// operations in the order they came out.
func run(cfg Config, ins []Input) []string {
	m := New(cfg)
	var out []string
	var apply func(Input)
	apply = func(in Input) {
		for _, op := range m.Apply(in) {
			out = append(out, op.String())
			apply(Done{ID: op.ID, OK: true})
		}
	}
	for _, in := range ins {
		apply(in)
	}
	return out
}

func TestTable(t *testing.T) {
	cfg := Config{Window: 10}
	tests := []struct {
		name string
		ins  []Input
		want []string
	}{
		{"answered: the reservation becomes the Room's holding",
			[]Input{CreateStarted{ID: 1, Key: "k1"}, Answered{ID: 1, SID: "RM1"}},
			[]string{"reserve k1", "commit k1->RM1"}},
		{"refused: given back",
			[]Input{CreateStarted{ID: 1, Key: "k1"}, Refused{ID: 1}},
			[]string{"reserve k1", "release k1"}},
		{"callback before the answer: held on its own, then the answer commits onto it",
			[]Input{CreateStarted{ID: 1, Key: "k1"}, RoomCreated{SID: "RM1", Name: "RM1"}, Answered{ID: 1, SID: "RM1"}},
			[]string{"reserve k1", "hold RM1", "commit k1->RM1"}},
		{"an orphan never settles a create while another is in flight",
			[]Input{
				CreateStarted{ID: 1, Key: "k1"}, CreateStarted{ID: 2, Key: "k2"},
				Unknown{ID: 1}, RoomCreated{SID: "RM2", Name: "RM2"}, // RM2 may be create 2's
				Answered{ID: 2, SID: "RM2"},
			},
			[]string{"reserve k1", "reserve k2", "hold RM2", "commit k2->RM2"}},
		{"once none is in flight, an orphan settles a lost answer",
			[]Input{
				CreateStarted{ID: 1, Key: "k1"}, CreateStarted{ID: 2, Key: "k2"},
				RoomCreated{SID: "RM1", Name: "RM1"}, Unknown{ID: 1}, Unknown{ID: 2},
			},
			[]string{"reserve k1", "reserve k2", "hold RM1", "commit k1->RM1"}},
		{"a named Room settles its create of unknown outcome",
			[]Input{CreateStarted{ID: 1, Key: "k1", Name: "a"}, Unknown{ID: 1}, RoomCreated{SID: "RM1", Name: "a"}},
			[]string{"reserve k1", "commit k1->RM1"}},
		{"two creates of one name: the Room is held on its own",
			[]Input{
				CreateStarted{ID: 1, Key: "k1", Name: "a"}, CreateStarted{ID: 2, Key: "k2", Name: "a"},
				RoomCreated{SID: "RM1", Name: "a"},
			},
			[]string{"reserve k1", "reserve k2", "hold RM1"}},
		{"ended before the answer: the reservation is given back",
			[]Input{CreateStarted{ID: 1, Key: "k1"}, RoomEnded{SID: "RM1"}, Answered{ID: 1, SID: "RM1"}},
			[]string{"reserve k1", "release RM1", "release k1"}}, // the SID's release: the store may hold it for another process
		{"a late room-created of an ended Room holds nothing",
			[]Input{RoomEnded{SID: "RM1"}, RoomCreated{SID: "RM1", Name: "RM1"}},
			[]string{"release RM1"}},
		{"a listing after the window settles a lost answer, after holding what it shows",
			[]Input{CreateStarted{ID: 1, Key: "k1"}, Unknown{ID: 1, Sent: 0}, Listed{Started: 11, Rooms: []Room{{SID: "RM9", Name: "RM9"}}}},
			[]string{"reserve k1", "hold RM9", "release k1"}},
		{"a listing within the window settles nothing",
			[]Input{CreateStarted{ID: 1, Key: "k1"}, Unknown{ID: 1, Sent: 5}, Listed{Started: 10}},
			[]string{"reserve k1"}},
		{"a token's name keeps a Room slot when its Room ends",
			[]Input{
				RoomCreated{SID: "RM1", Name: "n"}, TokenMinted{Name: "n", Key: "tok:n"},
				RoomEnded{SID: "RM1"}, RoomCreated{SID: "RM2", Name: "n"},
			},
			[]string{"hold RM1", "reserve tok:n", "release RM1", "commit tok:n->RM2"}},
		{"a token for a name with no Room reserves one; its ad-hoc Room takes it",
			[]Input{TokenMinted{Name: "n", Key: "tok:n"}, RoomCreated{SID: "RM1", Name: "n"}},
			[]string{"reserve tok:n", "commit tok:n->RM1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(cfg, tt.ins); !slices.Equal(got, tt.want) {
				t.Errorf("ops %q, want %q", got, tt.want)
			}
		})
	}
}

// TestOrdering: an operation on a key waits for the one before it, and a
// release that a hold justifies waits for the hold.
func TestOrdering(t *testing.T) {
	m := New(Config{})
	ops := m.Apply(RoomCreated{SID: "RM1", Name: "RM1"})
	if len(ops) != 1 || ops[0].Kind != Hold {
		t.Fatalf("room-created: %v", ops)
	}
	if got := m.Apply(RoomEnded{SID: "RM1"}); len(got) != 0 {
		t.Fatalf("the release ran before the hold was done: %v", got)
	}
	got := m.Apply(Done{ID: ops[0].ID, OK: true})
	if fmt.Sprint(got) != "[release RM1]" {
		t.Fatalf("after the hold: %v, want the release", got)
	}
	if m.Apply(Done{ID: got[0].ID, OK: true}); !m.Idle() {
		t.Fatal("not idle")
	}
}

// runFailing is run with every Hold and Commit of the Rooms in fail
// reported as failed.
func runFailing(cfg Config, fail map[string]bool, ins []Input) []string {
	m := New(cfg)
	var out []string
	var apply func(Input)
	apply = func(in Input) {
		for _, op := range m.Apply(in) {
			out = append(out, op.String())
			ok := !((op.Kind == Hold && fail[op.Key]) || (op.Kind == Commit && fail[op.To]) || fail[op.String()])
			apply(Done{ID: op.ID, OK: ok})
		}
	}
	for _, in := range ins {
		apply(in)
	}
	return out
}

// TestClientInputs: the inputs a Client feeds besides the sources' own.
func TestClientInputs(t *testing.T) {
	cfg := Config{Window: 10, TTL: 20}
	tests := []struct {
		name string
		fail map[string]bool
		ins  []Input
		want []string
	}{
		{"a Room the application holds is held by SID and settles no create",
			nil,
			[]Input{CreateStarted{ID: 1, Key: "k1"}, Unknown{ID: 1}, Held{SID: "RM1"}},
			[]string{"reserve k1", "hold RM1"}},
		{"an ended Room the application holds stays ended",
			nil,
			[]Input{RoomEnded{SID: "RM1"}, Held{SID: "RM1"}},
			[]string{"release RM1"}},
		{"an ended Room the Model never held is released all the same",
			nil,
			[]Input{RoomEnded{SID: "RM1"}, RoomEnded{SID: "RM1"}},
			[]string{"release RM1"}},
		{"a token reservation nobody relies on is given back",
			nil,
			[]Input{TokenMinted{Name: "n", Key: "tok:n", Gen: 1}, TokenDropped{Name: "n", Gen: 1}, RoomCreated{SID: "RM1", Name: "n"}},
			[]string{"reserve tok:n", "release tok:n", "hold RM1"}},
		{"a token dropped after the name was minted again keeps the reservation",
			nil,
			[]Input{TokenMinted{Name: "n", Key: "tok:n", Gen: 1}, TokenMinted{Name: "n", Key: "tok:n", Gen: 2}, TokenDropped{Name: "n", Gen: 1}, RoomCreated{SID: "RM1", Name: "n"}},
			[]string{"reserve tok:n", "reserve tok:n", "commit tok:n->RM1"}},
		{"tokens minted again after they lapsed keep the reservation past a listing",
			nil,
			[]Input{TokenMinted{Name: "n", Key: "t1"}, TokensLapsed{Name: "n"}, TokenMinted{Name: "n", Key: "t2"}, Listed{Started: 100}},
			[]string{"reserve t1", "reserve t1"}}, // reserved again under its key: the store only extends its lapse
		{"lapsed tokens' reservation is given back a TTL after they lapsed",
			nil,
			[]Input{
				TokenMinted{Name: "n", Key: "tok:n"}, RoomCreated{SID: "RM1", Name: "n", At: 0}, RoomEnded{SID: "RM1"},
				TokensLapsed{Name: "n", At: 5}, Tick{Now: 24}, Tick{Now: 25},
			},
			[]string{"reserve tok:n", "commit tok:n->RM1", "hold tok:n@RM1", "release RM1", "release tok:n@RM1"}},
		{"a hold the store failed is forgotten: the next source holds again",
			map[string]bool{"RM1": true},
			[]Input{RoomCreated{SID: "RM1", Name: "RM1"}, RoomCreated{SID: "RM1", Name: "RM1"}},
			[]string{"hold RM1", "hold RM1"}},
		{"a release the store failed: the next source that shows the end releases again",
			map[string]bool{"release RM1": true},
			[]Input{RoomCreated{SID: "RM1", Name: "RM1"}, RoomEnded{SID: "RM1"}, RoomEnded{SID: "RM1"}},
			[]string{"hold RM1", "release RM1", "release RM1"}},
		{"a forgotten tombstone: a late room-created is taken for a new Room",
			nil,
			[]Input{RoomEnded{SID: "RM1"}, Forget{SID: "RM1"}, RoomCreated{SID: "RM1", Name: "RM1"}},
			[]string{"release RM1", "hold RM1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runFailing(cfg, tt.fail, tt.ins); !slices.Equal(got, tt.want) {
				t.Errorf("ops %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSharedStoreTokens: the rules for JoinToken reservations kept under
// one key in every process sharing the store (Config.TokenKey), settled by
// whichever process hears the token's Room.
func TestSharedStoreTokens(t *testing.T) {
	key := func(name string) string { return "pending-room:" + name }
	one := Config{Window: 10, TokenKey: key}
	shared := Config{Window: 10, TokenKey: key, Shared: true}
	tests := []struct {
		name string
		cfg  Config
		fail map[string]bool
		ins  []Input
		want []string
	}{
		{"a room-created settles no token reservation: another process's create may have made the Room",
			shared, nil,
			[]Input{TokenMinted{Name: "n", Key: "pending-room:n"}, RoomCreated{SID: "RM1", Name: "n"}},
			[]string{"reserve pending-room:n", "hold RM1"}},
		{"an unnamed Room is held by SID: no name has a reservation for it",
			shared, nil,
			[]Input{RoomCreated{SID: "RM1", Name: "RM1"}},
			[]string{"hold RM1"}},
		{"a named create's Room heard first: held on its own, then the answer's commit",
			shared, nil,
			[]Input{CreateStarted{ID: 1, Key: "k1", Name: "a"}, RoomCreated{SID: "RM1", Name: "a"}, Answered{ID: 1, SID: "RM1"}},
			[]string{"reserve k1", "hold RM1", "commit k1->RM1"}},
		{"a Participant joining a Room held here uses up another process's reservation for its name",
			shared, nil,
			[]Input{RoomCreated{SID: "RM1", Name: "RM1"}, Joined{SID: "RM1", Name: "n"}},
			[]string{"hold RM1", "commit pending-room:n->RM1"}},
		{"a Participant joining a Room not held here holds it with that reservation",
			shared, nil,
			[]Input{Joined{SID: "RM1", Name: "n"}, RoomEnded{SID: "RM1"}},
			[]string{"commit pending-room:n->RM1", "release RM1"}},
		{"a Participant joining a Room that ended: the reservation is given back, nothing held",
			shared, nil,
			[]Input{RoomEnded{SID: "RM1"}, Joined{SID: "RM1", Name: "n"}},
			[]string{"release RM1", "release pending-room:n"}},
		{"a join settles this process's token too; minted again, it reserves again",
			shared, nil,
			[]Input{TokenMinted{Name: "n", Key: "pending-room:n"}, RoomCreated{SID: "RM1", Name: "n"}, Joined{SID: "RM1", Name: "n"}, TokenMinted{Name: "n", Key: "pending-room:n"}},
			[]string{"reserve pending-room:n", "hold RM1", "commit pending-room:n->RM1", "reserve pending-room:n"}},
		{"one process: its own tokens are not settled by a join (their Room's callbacks are), then TokensUsed",
			one, nil,
			[]Input{TokenMinted{Name: "n", Key: "pending-room:n"}, RoomCreated{SID: "RM1", Name: "RM1"}, Joined{SID: "RM1", Name: "n"}, TokensUsed{Name: "n"}},
			[]string{"reserve pending-room:n", "hold RM1", "release pending-room:n"}},
		{"a token minted again while reserved is reserved again",
			shared, nil,
			[]Input{TokenMinted{Name: "n", Key: "pending-room:n", Gen: 1}, TokenMinted{Name: "n", Key: "pending-room:n", Gen: 2}},
			[]string{"reserve pending-room:n", "reserve pending-room:n"}},
		{"a reservation made again and refused (another process settled it): the next Room of the name is held by SID",
			shared, map[string]bool{"reserve pending-room:n#2": true},
			[]Input{TokenMinted{Name: "n", Key: "pending-room:n", Gen: 1}, TokenMinted{Name: "n", Key: "pending-room:n", Gen: 2}, RoomCreated{SID: "RM1", Name: "n", At: -100}},
			[]string{"reserve pending-room:n", "reserve pending-room:n", "hold RM1"}},
		{"with a shared store, a Room that ends with tokens outstanding keeps no slot for its name",
			shared, nil,
			[]Input{TokenMinted{Name: "n", Key: "pending-room:n"}, RoomCreated{SID: "RM1", Name: "n"}, Joined{SID: "RM1", Name: "n"}, RoomEnded{SID: "RM1"}},
			[]string{"reserve pending-room:n", "hold RM1", "commit pending-room:n->RM1", "release RM1"}},
		{"one process: the slot is kept under a key of its own, then given back once every token connected",
			one, nil,
			[]Input{TokenMinted{Name: "n", Key: "pending-room:n"}, RoomCreated{SID: "RM1", Name: "n"}, RoomEnded{SID: "RM1"}, TokensUsed{Name: "n"}},
			[]string{"reserve pending-room:n", "commit pending-room:n->RM1", "hold pending-room:n@RM1", "release RM1", "release pending-room:n@RM1"}},
		{"one process: the kept slot becomes the next Room's holding, and the name's key is its own again",
			one, nil,
			[]Input{TokenMinted{Name: "n", Key: "pending-room:n"}, RoomCreated{SID: "RM1", Name: "n"}, RoomEnded{SID: "RM1"},
				RoomCreated{SID: "RM2", Name: "n"}, TokenMinted{Name: "n", Key: "pending-room:n"}},
			[]string{"reserve pending-room:n", "commit pending-room:n->RM1", "hold pending-room:n@RM1", "release RM1",
				"hold RM2", "release pending-room:n@RM1", "reserve pending-room:n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runFailingNth(tt.cfg, tt.fail, tt.ins); !slices.Equal(got, tt.want) {
				t.Errorf("ops %q, want %q", got, tt.want)
			}
		})
	}
}

// runFailingNth is runFailing where fail also names an operation by its
// text and occurrence ("reserve k#2": the second reserve of k).
func runFailingNth(cfg Config, fail map[string]bool, ins []Input) []string {
	m := New(cfg)
	var out []string
	seen := map[string]int{}
	var apply func(Input)
	apply = func(in Input) {
		for _, op := range m.Apply(in) {
			out = append(out, op.String())
			seen[op.String()]++
			ok := !(fail[op.String()] || fail[fmt.Sprintf("%v#%d", op, seen[op.String()])])
			apply(Done{ID: op.ID, OK: ok})
		}
	}
	for _, in := range ins {
		apply(in)
	}
	return out
}
