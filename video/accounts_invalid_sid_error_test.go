package video_test

import (
	"context"
	"errors"
	"testing"

	"github.com/videoquota/videoquota/video"
)

// TestAccountsClientInvalidSIDError: Accounts.Client with something that is
// not an Account SID (an empty form field, say) fails with ErrUnknownAccount
// and an error that says first what was wrong, without asking the lookup.
func TestAccountsClientInvalidSIDError(t *testing.T) {
	looked := false
	accounts, err := video.NewAccounts(func(context.Context, string) (video.Account, error) {
		looked = true
		return video.Account{}, video.ErrUnknownAccount
	})
	if err != nil {
		t.Fatal(err)
	}
	defer accounts.Close()
	for _, sid := range []string{"", "AC123", "CA00000000000000000000000000000000"} {
		_, err := accounts.Client(context.Background(), sid)
		if !errors.Is(err, video.ErrUnknownAccount) {
			t.Fatalf("Client(%q) = %v, want ErrUnknownAccount", sid, err)
		}
		const want = `video: account (invalid SID): not an Account SID (want "AC" followed by 32 hex digits): video: unknown account`
		if err.Error() != want {
			t.Errorf("Client(%q): error %q, want %q", sid, err, want)
		}
	}
	if looked {
		t.Error("the lookup was asked about an invalid SID")
	}
}
