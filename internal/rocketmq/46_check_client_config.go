package rocketmq

import "encoding/json"

// CHECK_CLIENT_CONFIG (46): body {"clientId", "group", "subscriptionData":
// {topic, subString, expressionType, ...}}. The Java client sends it
// before it subscribes with an SQL92 expression.
//
// Compiles the subscription as a pull would (filter package): SUCCESS
// when it compiles, SUBSCRIPTION_PARSE_FAILED with the reason when it
// does not. Property filtering (RocketMQ's enablePropertyFilter) is always
// on.

const codeCheckClientConfig int16 = 46

func init() { register(codeCheckClientConfig, handleCheckClientConfig) }

func handleCheckClientConfig(c *Conn, req *Command) *Command {
	var body struct {
		ClientID     string           `json:"clientId"`
		Group        string           `json:"group"`
		Subscription SubscriptionData `json:"subscriptionData"`
	}
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return errorResponse(req, ResInvalidParameter, "check client config body is not CheckClientRequestBody JSON: "+err.Error())
	}
	sd := body.Subscription
	if _, err := c.s.consume.compile(sd.ExpressionType, sd.SubString); err != nil {
		return errorResponse(req, ResSubscriptionParseFailed, err.Error())
	}
	return Response(req)
}
