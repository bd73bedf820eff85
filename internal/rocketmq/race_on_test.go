//go:build race

package rocketmq_test

// raceDetector is true when the tests run with -race.
const raceDetector = true
