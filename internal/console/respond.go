package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// apiError is an error with the HTTP status to answer it with.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errBadRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func errNotFound(format string, args ...any) error {
	return &apiError{status: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

// classify turns any error into an apiError: ours keep their status, the
// broker's Kafka error codes map to what they mean for the caller, and a
// missed deadline is a gateway time-out.
func classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var maxBytes *http.MaxBytesError
	if errors.As(err, &maxBytes) {
		return &apiError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body over %d bytes", maxBytes.Limit)}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &apiError{status: http.StatusGatewayTimeout, msg: "the broker did not answer in time: " + err.Error()}
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.UnknownTopicOrPartition, kerr.UnknownTopicID, kerr.GroupIDNotFound, kerr.TransactionalIDNotFound:
			return &apiError{status: http.StatusNotFound, msg: err.Error()}
		case kerr.InvalidConfig, kerr.InvalidRequest, kerr.InvalidTopicException, kerr.PolicyViolation,
			kerr.InvalidPartitions, kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord:
			return &apiError{status: http.StatusBadRequest, msg: err.Error()}
		case kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed,
			kerr.TransactionalIDAuthorizationFailed, kerr.DelegationTokenAuthorizationFailed:
			// The broker's ACLs refuse the console's principal.
			return &apiError{status: http.StatusForbidden, msg: err.Error()}
		case kerr.NonEmptyGroup, kerr.UnknownMemberID, kerr.IllegalGeneration, kerr.RebalanceInProgress:
			return &apiError{status: http.StatusConflict, msg: err.Error()}
		}
	}
	return &apiError{status: http.StatusBadGateway, msg: err.Error()}
}

// withMessage adds the broker's error message, where it sent one.
func withMessage(err error, msg string) error {
	if err == nil || msg == "" {
		return err
	}
	return fmt.Errorf("%w: %s", err, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	ae := classify(err)
	writeJSON(w, ae.status, map[string]any{"error": ae.msg, "status": ae.status})
}

func allowed(m methods) string {
	var ms []string
	for k := range m {
		ms = append(ms, k)
	}
	slices.Sort(ms)
	return strings.Join(ms, ", ")
}

// decodeBody reads a JSON body into v, refusing unknown fields so a typo in
// a field name is an error rather than a silent default.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return err
		}
		return errBadRequest("request body is not the JSON expected: %v", err)
	}
	if dec.More() {
		return errBadRequest("request body has more than one JSON value")
	}
	return nil
}

// intParam parses query parameter name as an integer in [lo, hi]; def when
// it is absent or empty.
func intParam(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errBadRequest("%s=%q is not a whole number", name, s)
	}
	if n < lo || n > hi {
		return 0, errBadRequest("%s=%d is out of range [%d, %d]", name, n, lo, hi)
	}
	return n, nil
}
