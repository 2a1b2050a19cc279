package whatsapp

// codeDescriptions are Meta's titles of the Cloud API error codes
// (D: support/error-codes), plus 131030 from older pages of the same table.
var codeDescriptions = map[int]string{
	0:      "AuthException: access token expired or invalidated",
	1:      "API Unknown: invalid request or possible server error",
	2:      "API Service: temporary downtime or overload",
	3:      "API Method: capability or permission issue",
	4:      "Too many API calls: app-level rate limit",
	10:     "Permission denied",
	33:     "Parameter value is not valid: business phone number deleted",
	100:    "Invalid parameter",
	190:    "Access token has expired",
	368:    "Temporarily blocked for policies violations",
	80007:  "Rate limit issues: WhatsApp Business Account rate limit",
	130429: "Rate limit hit: Cloud API message throughput reached",
	130472: "User's number is part of an experiment",
	131000: "Something went wrong",
	131005: "Access denied",
	131008: "Required parameter is missing",
	131009: "Parameter value is not valid",
	131016: "Service unavailable",
	131021: "Recipient cannot be sender",
	131026: "Message undeliverable",
	131030: "Recipient phone number not in allowed list",
	131031: "Account has been locked",
	131042: "Business eligibility payment issue",
	131045: "Incorrect certificate",
	131047: "Re-engagement message: more than 24 hours since the customer last replied",
	131048: "Spam rate limit hit",
	131049: "Meta chose not to deliver",
	131050: "User stopped marketing messages",
	131051: "Unsupported message type",
	131052: "Media download error",
	131053: "Media upload error",
	131056: "Pair rate limit hit: too many messages to the same recipient",
	131057: "Account in maintenance mode",
	132000: "Template parameter count mismatch",
	132001: "Template does not exist",
	132005: "Template hydrated text too long",
	132007: "Template format character policy violated",
	132012: "Template parameter format mismatch",
	132015: "Template is paused",
	132016: "Template is disabled",
	133004: "Server temporarily unavailable",
	133010: "Phone number not registered",
	135000: "Generic user error",
}

// CodeDescription returns Meta's short English title of an error code, or ""
// for a code not in Meta's table.
func CodeDescription(code int) string {
	if d, ok := codeDescriptions[code]; ok {
		return d
	}
	if code >= 200 && code <= 299 {
		return "API Permission"
	}
	return ""
}
