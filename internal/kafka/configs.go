package kafka

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/config"
)

// describedConfig is one config as DescribeConfigs and CreateTopics
// report it.
type describedConfig struct {
	Name        string
	Value       *string
	ReadOnly    bool
	IsDefault   bool
	Source      kmsg.ConfigSource
	IsSensitive bool
	Type        kmsg.ConfigType
	Doc         string
}

var configTypes = map[string]kmsg.ConfigType{
	"STRING": kmsg.ConfigTypeString, "INT": kmsg.ConfigTypeInt,
	"LONG": kmsg.ConfigTypeLong, "LIST": kmsg.ConfigTypeList, "BOOLEAN": kmsg.ConfigTypeBoolean,
}

// describeTopicConfigs resolves every topic config (or only names, if
// non-nil) with the source of its value.
func describeTopicConfigs(b *broker.Broker, explicit map[string]string, names []string) []describedConfig {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	defaults := b.Config().TopicDefaults
	var out []describedConfig
	for _, k := range config.TopicKeys {
		if names != nil && !want[k.Name] {
			continue
		}
		d := describedConfig{Name: k.Name, Type: configTypes[k.Type], Doc: k.Doc}
		v := k.Default
		d.Source, d.IsDefault = kmsg.ConfigSourceDefaultConfig, true
		if bv, ok := defaults[k.Name]; ok {
			v, d.Source, d.IsDefault = bv, kmsg.ConfigSourceStaticBrokerConfig, false
		}
		if ev, ok := explicit[k.Name]; ok {
			v, d.Source, d.IsDefault = ev, kmsg.ConfigSourceDynamicTopicConfig, false
		}
		d.Value = &v
		out = append(out, d)
	}
	return out
}

// describeBrokerConfigs reports the broker settings clients ask about;
// all are read-only, set at start-up.
func describeBrokerConfigs(b *broker.Broker, names []string) []describedConfig {
	cfg := b.Config()
	all := []describedConfig{
		{Name: "auto.create.topics.enable", Value: ptr(strconv.FormatBool(cfg.AutoCreateTopics)), Type: kmsg.ConfigTypeBoolean},
		{Name: "num.partitions", Value: ptr(strconv.Itoa(int(cfg.NumPartitions))), Type: kmsg.ConfigTypeInt},
		{Name: "socket.request.max.bytes", Value: ptr(strconv.Itoa(int(cfg.MaxRequestBytes))), Type: kmsg.ConfigTypeInt},
		{Name: "broker.id", Value: ptr(strconv.Itoa(int(cfg.NodeID))), Type: kmsg.ConfigTypeInt},
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []describedConfig
	for _, d := range all {
		if names != nil && !want[d.Name] {
			continue
		}
		d.ReadOnly, d.Source = true, kmsg.ConfigSourceStaticBrokerConfig
		out = append(out, d)
	}
	if names == nil || want[broker.DrainingConfig] {
		// Set at run time with IncrementalAlterConfigs.
		draining := b.Draining(cfg.NodeID)
		d := describedConfig{Name: broker.DrainingConfig, Value: ptr(strconv.FormatBool(draining)), Type: kmsg.ConfigTypeBoolean,
			IsDefault: !draining, Source: kmsg.ConfigSourceDefaultConfig}
		if draining {
			d.Source = kmsg.ConfigSourceDynamicBrokerConfig
		}
		out = append(out, d)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
