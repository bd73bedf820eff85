package config

import (
	"flag"
	"fmt"
)

// BalanceConfig is the active controller's balancer (internal/broker,
// balance.go): it moves replicas and preferred leaders onto brokers that
// join, and off brokers that are draining.
type BalanceConfig struct {
	// Auto runs the balancer whenever the set of live brokers changes
	// (and after each batch of its moves) until replicas, preferred
	// leaders and bytes are within 10% of the mean. Draining brokers are
	// emptied even when it is off: an operator asked for that.
	Auto bool
	// MaxMoves bounds the partition moves the balancer has in flight at
	// once; each copies one partition to one or more new replicas.
	MaxMoves int
}

// DefaultBalance is the balancer's default: on, four moves at a time.
func DefaultBalance() BalanceConfig { return BalanceConfig{Auto: true, MaxMoves: 4} }

func (c *BalanceConfig) validate() []error {
	if c.MaxMoves < 1 {
		return []error{fmt.Errorf("balance max moves %d must be at least 1", c.MaxMoves)}
	}
	return nil
}

func (c *BalanceConfig) flags(fs *flag.FlagSet) {
	fs.BoolVar(&c.Auto, "auto-balance", c.Auto, "in a cluster, move replicas and preferred leaders onto brokers that join until replicas, leaders and bytes are within 10% of the mean; --auto-balance=false leaves placement alone (draining brokers are still emptied) (env FERRY_AUTO_BALANCE)")
	fs.IntVar(&c.MaxMoves, "balance-max-moves", c.MaxMoves, "most partition moves the balancer runs at once (env FERRY_BALANCE_MAX_MOVES)")
}
