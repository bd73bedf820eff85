package main

import (
	"errors"
	"io"
)

func runServe(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
