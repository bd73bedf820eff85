package schedule

import "time"

// rocketMQLevels are RocketMQ's default messageDelayLevel, 1-based.
var rocketMQLevels = [...]time.Duration{
	time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute,
	5 * time.Minute, 6 * time.Minute, 7 * time.Minute, 8 * time.Minute,
	9 * time.Minute, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour,
}

// MaxDelayLevel is the highest RocketMQ delay level.
const MaxDelayLevel = len(rocketMQLevels)

// DelayLevel returns the delay of a RocketMQ delay level (1s 5s 10s 30s 1m
// 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h). Levels above 18 count as 18,
// as the RocketMQ broker does; ok is false for levels below 1 (no delay).
func DelayLevel(level int) (d time.Duration, ok bool) {
	if level < 1 {
		return 0, false
	}
	return rocketMQLevels[min(level, MaxDelayLevel)-1], true
}
