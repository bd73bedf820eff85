//go:build race

package norace

const raceEnabled = true
