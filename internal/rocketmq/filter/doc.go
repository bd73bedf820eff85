// Package filter decides on the broker whether a RocketMQ message matches a
// consumer's subscription, so that unwanted messages never cross the network.
//
// A subscription is an expression type and an expression, as the client
// sends them in HEART_BEAT (subscriptionDataSet) or PULL_MESSAGE:
//
//   - TAG (or an empty type): "*" or "" match every message; otherwise tags
//     separated by "||" ("A || B"), matched exactly against the message's
//     TAGS property. A message without TAGS matches only "*".
//   - SQL92: RocketMQ's selector language over the message properties
//     (record headers, with KEYS from the record key):
//     comparisons = <> < <= > >=, AND, OR, NOT, BETWEEN x AND y, [NOT] IN
//     ('a', 'b'), IS [NOT] NULL, [NOT] CONTAINS / STARTSWITH / ENDSWITH 'str',
//     string literals in single quotes (a doubled quote stands for one), integer and
//     floating-point literals, TRUE, FALSE, NULL, unary + and -, parentheses,
//     -- and /* */ comments. Keywords are case-insensitive; property names
//     are case-sensitive.
//
// Evaluation follows RocketMQ (three-valued logic: a missing property makes
// a comparison unknown, and only a TRUE result matches), with three
// deliberate differences, each towards the reading a user expects:
//
//   - NOT binds looser than comparisons: NOT a = 'x' is NOT (a = 'x')
//     (RocketMQ's grammar binds NOT to the property alone).
//   - A property's value (always a string) compared with a number is parsed
//     as a number, integer or decimal; a value that is no number makes the
//     comparison unknown instead of failing the whole expression.
//   - An expression that is not a condition (a bare property or number) is
//     refused at compile time instead of never matching.
//
// Compile bounds what a subscription can cost: expressions are at most
// MaxExpressionBytes long and nest at most MaxDepth deep, so neither a huge
// nor a deeply nested expression can exhaust the broker's stack or memory.
package filter
