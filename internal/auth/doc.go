// Package auth authenticates clients for the protocol fronts: the SASL
// mechanisms (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN) as exchanges of opaque
// messages, the derivation of stored SCRAM credentials, and the limiter of
// failed authentications per client address. It knows no wire protocol: the
// Kafka front carries the messages in SaslAuthenticate (or raw frames after
// SaslHandshake v0) and turns the result into a principal.
//
// Credentials live in the metadata log (meta.ScramRecord): salt, iteration
// count, StoredKey and ServerKey, never a password. SCRAM exchanges are run
// by github.com/xdg-go/scram; PLAIN salts and hashes the password it is
// given with the stored salt and compares the result with StoredKey, so one
// stored credential serves both mechanisms.
package auth
