// Package browsertest runs a real headless Chromium for a Go test, through
// the Chrome DevTools Protocol client github.com/chromedp/chromedp.
//
// # Finding the browser
//
// [New] looks for Debian's chromium package: the binary /usr/bin/chromium, or
// chromium or chromium-browser on PATH. When none is there the test is
// skipped, unless the environment has CI=true: then it fails, so that a CI
// machine without the browser cannot pass the browser tests by skipping them.
// .ci/run installs the package. Under go test -short, New skips the test:
// starting Chromium takes seconds, and the contributors' -short run leaves
// the browser to the full run (CI's).
//
// # One browser per test
//
// Each [Browser] is one Chromium process, headless, with a profile of its own
// in a new temporary directory, so tests can run in parallel and share no
// cookies or storage. The test's Cleanup closes the tab and the browser, waits
// for the process to exit, removes the profile and then checks /proc: a
// process of that browser still running 5 s later fails the test (and is
// killed). Chromium's crash database and caches go to the test's temporary
// directory too, not to $HOME.
//
// # Console errors
//
// The browser's console is read from the moment the tab opens: calls of
// console.error, uncaught exceptions, unhandled promise rejections, and
// error entries of the browser log (a resource that failed to load, a
// refused script). [Browser.ConsoleErrors] returns them and
// [Browser.CheckConsole] fails the test when there is one.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// DefaultTimeout bounds each [Browser.Do] call: long enough for a page on a
// loaded machine, short enough that a test waiting on a missing element fails
// rather than hangs until the test binary's own timeout.
const DefaultTimeout = 30 * time.Second

// candidates are where Debian's chromium package puts the browser, then the
// names other distributions use.
var candidates = []string{"/usr/bin/chromium", "chromium", "chromium-browser"}

// ErrNoBrowser is returned by [Find] when no Chromium binary is installed.
var ErrNoBrowser = errors.New("browsertest: no chromium binary (install Debian's chromium package)")

// Find returns the path of the Chromium binary, or [ErrNoBrowser].
func Find() (string, error) {
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// Browser is one headless Chromium process with one tab, owned by one test.
// Its methods are safe for simultaneous use, though a tab does one thing at a
// time.
type Browser struct {
	tb      testing.TB
	tab     context.Context
	timeout time.Duration
	profile string // the temporary --user-data-dir
	home    string // the temporary XDG_CONFIG_HOME and XDG_CACHE_HOME

	mu     sync.Mutex
	errors []chromedp.ConsoleMessage // guarded by mu
	more   chan struct{}             // closed and replaced when errors grows; guarded by mu
}

// Option changes how [New] starts the browser.
type Option func(*config)

type config struct {
	width, height int
	timeout       time.Duration
}

// WindowSize sets the viewport in CSS pixels (default 1280×900). It is also
// the width of a [Browser.Screenshot].
func WindowSize(width, height int) Option {
	return func(c *config) { c.width, c.height = width, height }
}

// Timeout sets the bound of each [Browser.Do] call (default [DefaultTimeout]).
func Timeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// New starts a headless Chromium for tb and returns it with one blank tab
// open. It skips the test under -short, and when the browser is not
// installed unless the environment variable CI is "true" (then it fails). Everything New starts is stopped by
// tb's Cleanup.
func New(tb testing.TB, opts ...Option) *Browser {
	tb.Helper()
	cfg := config{width: 1280, height: 900, timeout: DefaultTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.width <= 0 || cfg.height <= 0 || cfg.timeout <= 0 {
		tb.Fatalf("browsertest: window %dx%d and timeout %v must be positive", cfg.width, cfg.height, cfg.timeout)
	}
	if testing.Short() {
		tb.Skip("browsertest: starts headless Chromium (seconds); run without -short")
	}
	path, err := Find()
	if err != nil {
		missing(tb, err)
		return nil
	}

	// Chromium keeps its crash database and caches under the XDG
	// directories, outside the profile: point them at the test's own
	// temporary directory, removed after the browser has stopped (TempDir's
	// cleanup runs after the one registered below).
	home := tb.TempDir()
	allocOpts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.Env("XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(cfg.width, cfg.height),
		// Tests run as root in CI containers, where Chromium's sandbox
		// cannot start.
		chromedp.NoSandbox,
		// Loopback only: no background requests to Google's services.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
	)
	// No UserDataDir: chromedp then makes a fresh temporary profile for this
	// browser, removes it on exit and kills Chromium's helpers still using it.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	tab, cancelTab := chromedp.NewContext(allocCtx)

	b := &Browser{tb: tb, tab: tab, timeout: cfg.timeout, home: home, more: make(chan struct{})}
	// Subscribing starts the browser; the messages of every page the tab
	// opens from now on are read.
	messages := chromedp.Console(tab)
	var profile string
	if c := chromedp.FromContext(tab); c != nil && c.Browser != nil && c.Browser.Process() != nil {
		profile = userDataDir(c.Browser.Process().Pid)
	}
	b.profile = profile
	read := make(chan struct{})
	go func() {
		defer close(read)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, m)
				close(b.more)
				b.more = make(chan struct{})
				b.mu.Unlock()
			}
		}
	}()
	tb.Cleanup(func() {
		cancelTab()
		<-read
		cancelAlloc() // waits for the browser process and removes the profile
		if profile == "" {
			return
		}
		// Chromium's helpers end soon after the browser, some (the crash
		// handler) reparented away from it: wait for them, then kill and
		// report what is left.
		if n := awaitGone(5*time.Second, profile, home); n > 0 {
			tb.Errorf("browsertest: %d chromium processes were still running 5s after the browser closed", n)
		}
	})
	if profile == "" {
		// The browser did not start: say why.
		if err := chromedp.Do(tab); err != nil {
			tb.Fatalf("browsertest: starting %s: %v", path, err)
		}
		tb.Fatalf("browsertest: %s started with no process", path)
	}
	return b
}

// missing skips tb, or fails it when CI=true.
func missing(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%v; CI=true, so the browser tests may not be skipped", err)
		return
	}
	tb.Skip(err)
}

// Context returns the tab's context, for chromedp calls the helpers here do
// not cover (chromedp.Run with an action that returns a value). It is
// cancelled by the test's Cleanup.
func (b *Browser) Context() context.Context { return b.tab }

// Do runs actions in the tab, bounded by the browser's timeout (see
// [Timeout]). Waiting actions such as chromedp.WaitVisible poll the DOM, so a
// test waits on the page, never on a fixed sleep.
func (b *Browser) Do(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.tab, b.timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// Eval evaluates a JavaScript expression in the page and returns its value
// decoded into T, bounded by the browser's timeout.
func Eval[T any](b *Browser, expression string) (T, error) {
	ctx, cancel := context.WithTimeout(b.tab, b.timeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expression))
}

// ConsoleErrors returns the console errors, uncaught exceptions and error
// entries of the browser log seen so far, oldest first.
func (b *Browser) ConsoleErrors() []chromedp.ConsoleMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), b.errors...)
}

// WaitConsoleErrors waits until done, given the console errors seen so far,
// returns true, or until the browser's timeout. It returns the errors seen
// and, on timeout, an error saying so.
func (b *Browser) WaitConsoleErrors(done func([]chromedp.ConsoleMessage) bool) ([]chromedp.ConsoleMessage, error) {
	timer := time.NewTimer(b.timeout)
	defer timer.Stop()
	for {
		b.mu.Lock()
		seen := append([]chromedp.ConsoleMessage(nil), b.errors...)
		more := b.more
		b.mu.Unlock()
		if done(seen) {
			return seen, nil
		}
		select {
		case <-more:
		case <-b.tab.Done():
			return seen, fmt.Errorf("browsertest: waiting for console errors: %w", b.tab.Err())
		case <-timer.C:
			return seen, fmt.Errorf("browsertest: waiting for console errors: no match after %v", b.timeout)
		}
	}
}

// CheckConsole fails the test (without stopping it) for each console error
// seen so far, naming its text and where it came from.
func (b *Browser) CheckConsole() {
	b.tb.Helper()
	for _, m := range b.ConsoleErrors() {
		where := m.URL
		if where != "" {
			where = fmt.Sprintf(" at %s:%d:%d", m.URL, m.Line+1, m.Column+1)
		}
		b.tb.Errorf("browsertest: console %s%s", m, where)
	}
}

// Screenshot saves a PNG of the whole page (not only the viewport) to path,
// creating its directory.
func (b *Browser) Screenshot(path string) error {
	ctx, cancel := context.WithTimeout(b.tab, b.timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("browsertest: screenshot: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("browsertest: screenshot: %w", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("browsertest: screenshot: %w", err)
	}
	return nil
}

// userDataDir returns the --user-data-dir argument of process pid, or "".
func userDataDir(pid int) string {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
		if dir, ok := strings.CutPrefix(string(arg), "--user-data-dir="); ok {
			return dir
		}
	}
	return ""
}

// awaitGone waits up to limit for the processes that refer to any of dirs
// in their command line to end, then kills those left and returns how many
// there were. Chromium's processes are not all its children, so there is
// no exit to wait on: it looks at /proc every 20 ms.
func awaitGone(limit time.Duration, dirs ...string) int {
	deadline := time.Now().Add(limit)
	for len(using(dirs)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	left := using(dirs)
	for _, pid := range left {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return len(left)
}

// using returns the processes (other than this one) with an argument that
// contains one of dirs. Chromium passes --user-data-dir to each of its
// helpers, and the crash handler its database under XDG_CONFIG_HOME.
func using(dirs []string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		for _, d := range dirs {
			if bytes.Contains(cmdline, []byte(d)) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
