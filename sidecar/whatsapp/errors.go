package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// ErrOutcomeUnknown is matched (errors.Is) by transport errors that happened
// after the request was written: Meta may have accepted the message. Do not
// resend blindly; reconcile from status webhooks (biz_opaque_callback_data)
// first.
var ErrOutcomeUnknown = errors.New("outcome unknown: request written, no answer")

// ErrNotSent is matched by transport errors that happened before the request
// was written (dial refused, DNS): Meta certainly did not get it.
var ErrNotSent = errors.New("request not sent")

// APIError is an error answered by the Graph API, parsed from its body:
// {"error":{"message","type","code","error_subcode","error_data":{"details"},
// "fbtrace_id"}} (D: support/error-codes). Build handling on Code and Details,
// as Meta recommends, not on Message or HTTPStatus.
type APIError struct {
	HTTPStatus int
	Code       int
	Subcode    int
	Type       string
	// Message is Meta's "message", "(#code) Title".
	Message   string
	Details   string
	FBTraceID string
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("whatsapp api: ")
	if e.Message != "" {
		b.WriteString(e.Message)
	} else {
		b.WriteString("http ")
		b.WriteString(strconv.Itoa(e.HTTPStatus))
	}
	if e.Code != 0 && !strings.Contains(e.Message, "#"+strconv.Itoa(e.Code)) {
		b.WriteString(" (code ")
		b.WriteString(strconv.Itoa(e.Code))
		b.WriteString(")")
	}
	if e.Details != "" {
		b.WriteString(": ")
		b.WriteString(e.Details)
	}
	if e.FBTraceID != "" {
		b.WriteString(" [fbtrace_id ")
		b.WriteString(e.FBTraceID)
		b.WriteString("]")
	}
	return b.String()
}

// Retryable reports whether the same request may be sent again after a
// backoff: Meta rejected it before processing (throughput, transient server
// errors). A 131056 pair rate limit is not Retryable: it is a wait for that
// recipient only (ClassRetryLaterForRecipient).
func (e *APIError) Retryable() bool { return classifyAPI(e) == ClassRetryable }

// graphErrorBody is the JSON of a Graph API error response.
type graphErrorBody struct {
	Error *struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode"`
		FBTraceID string `json:"fbtrace_id"`
		ErrorData *struct {
			Details string `json:"details"`
		} `json:"error_data"`
	} `json:"error"`
}

// parseAPIError builds an APIError from a non-2xx response body. ok is false
// when the body is not a Graph error (e.g. a proxy's HTML page). secret is
// removed from the texts, should Meta ever echo it.
func parseAPIError(status int, body []byte, secret string) (*APIError, bool) {
	e := &APIError{HTTPStatus: status}
	var g graphErrorBody
	if err := json.Unmarshal(body, &g); err != nil || g.Error == nil {
		return e, false
	}
	e.Code, e.Subcode, e.Type = g.Error.Code, g.Error.Subcode, g.Error.Type
	e.Message, e.FBTraceID = redact(g.Error.Message, secret), g.Error.FBTraceID
	if g.Error.ErrorData != nil {
		e.Details = redact(g.Error.ErrorData.Details, secret)
	}
	return e, true
}

func redact(s, secret string) string {
	if secret == "" || !strings.Contains(s, secret) {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

// TransportError is a failure to get an HTTP answer. It matches
// ErrOutcomeUnknown when the request had been written, ErrNotSent otherwise,
// and unwraps to the underlying error (context.DeadlineExceeded, net errors).
type TransportError struct {
	Op      string
	Written bool
	Err     error
}

func (e *TransportError) Error() string {
	if e.Written {
		return e.Op + ": outcome unknown: " + e.Err.Error()
	}
	return e.Op + ": not sent: " + e.Err.Error()
}

func (e *TransportError) Unwrap() error { return e.Err }

// Is matches ErrOutcomeUnknown or ErrNotSent.
func (e *TransportError) Is(target error) bool {
	return (target == ErrOutcomeUnknown && e.Written) || (target == ErrNotSent && !e.Written)
}

// Class is what a caller should do about an error.
type Class int

// Classes, from Meta's error-code table (D: support/error-codes).
const (
	// ClassNone is the class of a nil error.
	ClassNone Class = iota
	// ClassRetryable: not accepted by Meta; send again after a backoff
	// (130429, 131000, 131016, 131057, 133004, 1, 2, 4, 80007, 5xx, not-sent
	// transport errors).
	ClassRetryable
	// ClassOutcomeUnknown: the request was written but no answer came back;
	// Meta may have accepted it. Reconcile from status webhooks before
	// resending.
	ClassOutcomeUnknown
	// ClassRetryLaterForRecipient: 131056 pair rate limit; wait before
	// sending to this recipient again, other recipients are fine.
	ClassRetryLaterForRecipient
	// ClassReEngagement: 131047, more than 24 h since the customer last
	// wrote; send an approved template instead.
	ClassReEngagement
	// ClassUndeliverable: the recipient cannot receive it (131026, 131049,
	// 131050, 130472, 131021); final for this message.
	ClassUndeliverable
	// ClassAuth: the token is expired or lacks permissions (0, 190, 3, 10,
	// 200-299, 131005); operator action.
	ClassAuth
	// ClassConfig: the account or phone number needs fixing (131030 test
	// allow-list, 131031 locked, 131042 payment, 131045, 133010, 33, 131048
	// spam limit); operator action.
	ClassConfig
	// ClassPolicy: 368, temporarily blocked for policy violations.
	ClassPolicy
	// ClassInvalidRequest: fix the request (100, 131008, 131009, 131051,
	// 132xxx template errors, 135000, local validation errors).
	ClassInvalidRequest
	// ClassMedia: 131053 media upload error, 131052 media download error.
	ClassMedia
	// ClassUnknown: an error not in Meta's table; final.
	ClassUnknown
)

var classNames = [...]string{
	ClassNone: "none", ClassRetryable: "retryable", ClassOutcomeUnknown: "outcome_unknown",
	ClassRetryLaterForRecipient: "retry_later_for_recipient", ClassReEngagement: "re_engagement",
	ClassUndeliverable: "undeliverable", ClassAuth: "auth", ClassConfig: "config",
	ClassPolicy: "policy", ClassInvalidRequest: "invalid_request", ClassMedia: "media",
	ClassUnknown: "unknown",
}

func (c Class) String() string {
	if c >= 0 && int(c) < len(classNames) {
		return classNames[c]
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// Classify tells what to do about an error returned by the Client (or any
// error wrapping one).
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	if ae, ok := errors.AsType[*APIError](err); ok {
		return classifyAPI(ae)
	}
	if _, ok := errors.AsType[*ValidationError](err); ok {
		return ClassInvalidRequest
	}
	if errors.Is(err, ErrOutcomeUnknown) {
		return ClassOutcomeUnknown
	}
	if errors.Is(err, ErrNotSent) {
		return ClassRetryable
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ClassRetryable
	}
	return ClassUnknown
}

// ClassifyCode classifies a Meta error code, e.g. from a failed status
// webhook's errors[].code.
func ClassifyCode(code int) Class {
	return classifyAPI(&APIError{Code: code, HTTPStatus: http.StatusBadRequest})
}

func classifyAPI(e *APIError) Class {
	switch c := e.Code; {
	case c == 130429, c == 131000, c == 131016, c == 131057, c == 133004,
		c == 1, c == 2, c == 4, c == 80007:
		return ClassRetryable
	case c == 131056:
		return ClassRetryLaterForRecipient
	case c == 131047:
		return ClassReEngagement
	case c == 131026, c == 131049, c == 131050, c == 130472, c == 131021:
		return ClassUndeliverable
	case c == 190, c == 3, c == 10, c == 131005, c >= 200 && c <= 299:
		return ClassAuth
	case c == 0 && e.HTTPStatus == http.StatusUnauthorized:
		return ClassAuth
	case c == 131030, c == 131031, c == 131042, c == 131045, c == 133010, c == 33, c == 131048:
		return ClassConfig
	case c == 368:
		return ClassPolicy
	case c == 131053, c == 131052:
		return ClassMedia
	case c == 100, c == 131008, c == 131009, c == 131051, c == 135000, c >= 132000 && c < 133000:
		return ClassInvalidRequest
	case e.HTTPStatus >= 500:
		return ClassRetryable
	default:
		return ClassUnknown
	}
}

// retriedInternally reports whether the client may resend by itself: Meta
// certainly did not accept the request. 5xx only with a Meta error body: a
// proxy's 502/504 may hide an accepted request.
func retriedInternally(err error) bool {
	if ae, ok := errors.AsType[*APIError](err); ok {
		return classifyAPI(ae) == ClassRetryable && (ae.Code != 0 || ae.HTTPStatus == http.StatusServiceUnavailable)
	}
	return errors.Is(err, ErrNotSent)
}
