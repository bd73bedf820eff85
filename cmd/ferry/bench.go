package main

import (
	"errors"
	"io"
)

func runBench(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
