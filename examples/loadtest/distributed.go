package main

import (
	"errors"
	"io"
)

func runDistributed(cfg config, stderr io.Writer) ([]*result, error) {
	return nil, errors.New("distributed: not yet")
}

func runChild(cfg config, stdout io.Writer) error { return errors.New("child: not yet") }
