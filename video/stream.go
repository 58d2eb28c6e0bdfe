package video

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/twilio/twilio-go/client"
	"github.com/twilio/twilio-go/client/metadata"
)

// forward relays twilio-go's stream in/inErr to the caller until the listing
// or ctx ends. When ctx ends first it closes the caller's channels with
// ctx.Err() ([ErrClosed] when Close ended it) and keeps draining twilio-go's channels, so that twilio-go's
// goroutine (whose next page request fails at once with the ended ctx) exits.
// cl is released once twilio-go is done with it.
func forward[T any](c *Client, cl *call, in chan T, inErr chan error, observe func(context.Context, *T)) (chan T, chan error) {
	ctx := cl.ctx
	out := make(chan T, 1)
	outErr := make(chan error, 1)
	registered := c.startWorker() // false only when Close has begun: ctx has ended, the relay ends soon
	go func() {
		if registered {
			defer c.life.workers.Done()
		}
		defer c.end(cl)
		for {
			select {
			case v, ok := <-in:
				if !ok {
					if err := <-inErr; err != nil {
						outErr <- cl.finish(err)
					}
					close(out)
					close(outErr)
					return
				}
				if observe != nil {
					observe(ctx, &v)
				}
				select {
				case out <- v:
					continue
				case <-ctx.Done():
				}
			case <-ctx.Done():
			}
			outErr <- ended(ctx, ctx.Err())
			close(out)
			close(outErr)
			for range in {
			}
			for range inErr { // the caller was given ctx's error instead
			}
			return
		}
	}()
	return out, outErr
}

// forwardMeta is forward for the *WithMetadata streams. twilio-go's
// Stream*WithMetadata dereferences a nil page when the first page fails; that
// failure is turned into the error it would have reported.
func forwardMeta[T any](c *Client, cl *call, start func() (*metadata.ResourceMetadata[chan T], chan error),
	observe func(context.Context, *T)) (*metadata.ResourceMetadata[chan T], chan error) {
	m, errs, err := startStream(cl, start)
	if err != nil {
		status := cl.status
		c.end(cl)
		out, outErr := failedStream[T](err)
		return metadata.NewResourceMetadata(out, status, http.Header{}), outErr
	}
	out, outErr := forward(c, cl, m.Resource, errs, observe)
	return metadata.NewResourceMetadata(out, m.GetStatusCode(), m.GetHeaders()), outErr
}

func startStream[T any](cl *call, start func() (*metadata.ResourceMetadata[chan T], chan error)) (m *metadata.ResourceMetadata[chan T], errs chan error, err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if err = cl.requestError(); err == nil {
			panic(r) // not the known first-page failure
		}
	}()
	m, errs = start()
	return m, errs, nil
}

// requestError rebuilds the error of the call's last failed request the way
// twilio-go decodes it, nil when the last request did not fail.
func (cl *call) requestError() error {
	switch {
	case cl.localErr != nil:
		return cl.localErr
	case cl.status >= 400:
		tw := &client.TwilioRestError{}
		if err := json.Unmarshal(cl.body, tw); err != nil {
			return cl.finish(fmt.Errorf("error decoding the response for an HTTP error code: %d: %w", cl.status, err))
		}
		return cl.finish(tw)
	case cl.netErr != nil:
		return cl.finish(cl.netErr)
	}
	return nil
}

// failedStream returns closed channels carrying err, for a stream refused
// before anything was sent.
func failedStream[T any](err error) (chan T, chan error) {
	out := make(chan T)
	outErr := make(chan error, 1)
	outErr <- err
	close(out)
	close(outErr)
	return out, outErr
}

// failedStreamMeta is failedStream for the *WithMetadata streams.
func failedStreamMeta[T any](err error) (*metadata.ResourceMetadata[chan T], chan error) {
	out, outErr := failedStream[T](err)
	return metadata.NewResourceMetadata(out, 0, http.Header{}), outErr
}
