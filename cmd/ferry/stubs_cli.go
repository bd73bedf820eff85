package main

import (
	"errors"
	"io"
)

// Placeholders replaced by the CLI files (topic.go, produce.go, consume.go, bench.go).
var errNotYet = errors.New("not implemented yet")

func runTopic(args []string, stdin io.Reader, stdout, stderr io.Writer) error   { return errNotYet }
func runProduce(args []string, stdin io.Reader, stdout, stderr io.Writer) error { return errNotYet }
func runConsume(args []string, stdin io.Reader, stdout, stderr io.Writer) error { return errNotYet }
func runBench(args []string, stdin io.Reader, stdout, stderr io.Writer) error   { return errNotYet }
