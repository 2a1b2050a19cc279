package whatsapp

// Webhook payloads of the "messages" field, as Meta POSTs them to the
// callback URL (D: webhooks/overview, webhooks/reference/messages/*).
// One POST may hold several entries, each several changes, each value several
// messages, statuses or errors. Timestamps are strings of unix seconds.

// WebhookPayload is the envelope of every webhook POST.
type WebhookPayload struct {
	// Object is "whatsapp_business_account".
	Object string         `json:"object"`
	Entry  []WebhookEntry `json:"entry"`
}

// WebhookEntry is one WhatsApp Business Account's changes; ID is the WABA ID.
type WebhookEntry struct {
	ID      string          `json:"id"`
	Changes []WebhookChange `json:"changes"`
}

// WebhookChange is one change; Field is "messages" for messages and statuses.
type WebhookChange struct {
	Value WebhookValue `json:"value"`
	Field string       `json:"field"`
}

// WebhookValue holds inbound messages (with their senders in Contacts),
// statuses of outbound messages, or system/app-level errors.
type WebhookValue struct {
	MessagingProduct string           `json:"messaging_product"`
	Metadata         WebhookMetadata  `json:"metadata"`
	Contacts         []WebhookContact `json:"contacts,omitempty"`
	Messages         []InboundMessage `json:"messages,omitempty"`
	Statuses         []Status         `json:"statuses,omitempty"`
	Errors           []WebhookError   `json:"errors,omitempty"`
}

// WebhookMetadata identifies the business phone number.
type WebhookMetadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// WebhookContact is the sender of inbound messages. WaID may differ from the
// phone number in InboundMessage.From.
type WebhookContact struct {
	Profile         WebhookProfile `json:"profile"`
	WaID            string         `json:"wa_id"`
	IdentityKeyHash string         `json:"identity_key_hash,omitempty"`
	UserID          string         `json:"user_id,omitempty"`
}

// WebhookProfile is the sender's WhatsApp profile.
type WebhookProfile struct {
	Name string `json:"name"`
}

// Inbound message types (D: webhooks/reference/messages/*).
const (
	InboundTypeText        = "text"
	InboundTypeImage       = "image"
	InboundTypeDocument    = "document"
	InboundTypeAudio       = "audio"
	InboundTypeVideo       = "video"
	InboundTypeSticker     = "sticker"
	InboundTypeLocation    = "location"
	InboundTypeContacts    = "contacts"
	InboundTypeReaction    = "reaction"
	InboundTypeInteractive = "interactive"
	InboundTypeButton      = "button"
	InboundTypeOrder       = "order"
	InboundTypeSystem      = "system"
	InboundTypeUnsupported = "unsupported"

	InteractiveButtonReply = "button_reply"
	InteractiveListReply   = "list_reply"
	InteractiveNFMReply    = "nfm_reply"
)

// InboundMessage is a message a WhatsApp user sent to the business.
type InboundMessage struct {
	From      string          `json:"from"`
	ID        string          `json:"id"`
	Timestamp string          `json:"timestamp"`
	Type      string          `json:"type"`
	Context   *InboundContext `json:"context,omitempty"`
	Referral  *Referral       `json:"referral,omitempty"`

	Text        *Text               `json:"text,omitempty"`
	Image       *InboundMedia       `json:"image,omitempty"`
	Document    *InboundMedia       `json:"document,omitempty"`
	Audio       *InboundMedia       `json:"audio,omitempty"`
	Video       *InboundMedia       `json:"video,omitempty"`
	Sticker     *InboundMedia       `json:"sticker,omitempty"`
	Location    *Location           `json:"location,omitempty"`
	Contacts    []Contact           `json:"contacts,omitempty"`
	Reaction    *InboundReaction    `json:"reaction,omitempty"`
	Interactive *InboundInteractive `json:"interactive,omitempty"`
	Button      *InboundButtonReply `json:"button,omitempty"`
	Order       *Order              `json:"order,omitempty"`
	System      *System             `json:"system,omitempty"`
	Unsupported *Unsupported        `json:"unsupported,omitempty"`
	// Errors is set on unsupported messages (131051) and media that could
	// not be downloaded (131052).
	Errors []WebhookError `json:"errors,omitempty"`
}

// InboundContext is set on replies (From is the business number, ID the
// wamid replied to, as on button and list replies) and on forwarded messages.
type InboundContext struct {
	From                string           `json:"from,omitempty"`
	ID                  string           `json:"id,omitempty"`
	Forwarded           bool             `json:"forwarded,omitempty"`
	FrequentlyForwarded bool             `json:"frequently_forwarded,omitempty"`
	ReferredProduct     *ReferredProduct `json:"referred_product,omitempty"`
}

// ReferredProduct is the product a user asked about.
type ReferredProduct struct {
	CatalogID         string `json:"catalog_id"`
	ProductRetailerID string `json:"product_retailer_id"`
}

// InboundMedia is an image, document, audio, video or sticker sent by a
// user. Fetch it with Client.MediaInfo(ID) then Client.DownloadMedia. SHA256
// is base64.
type InboundMedia struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
	// URL is the download URL, in newer payloads only.
	URL string `json:"url,omitempty"`
	// Voice is set on audio: true for voice notes.
	Voice *bool `json:"voice,omitempty"`
	// Animated is set on stickers: true for animated ones.
	Animated *bool `json:"animated,omitempty"`
}

// InboundReaction is a reaction by a user; Emoji is omitted when the
// reaction is removed.
type InboundReaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji,omitempty"`
}

// InboundInteractive is the user's tap on a reply button or list row.
type InboundInteractive struct {
	Type        string       `json:"type"`
	ButtonReply *ButtonReply `json:"button_reply,omitempty"`
	ListReply   *ListReply   `json:"list_reply,omitempty"`
	NFMReply    *NFMReply    `json:"nfm_reply,omitempty"`
}

// ListReply is the list row a user chose.
type ListReply struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// NFMReply is a WhatsApp Flows response.
type NFMReply struct {
	ResponseJSON string `json:"response_json"`
	Body         string `json:"body"`
	Name         string `json:"name"`
}

// InboundButtonReply is a tap on a template quick-reply button: Payload is the
// payload set at send time (or the label), Text the label.
type InboundButtonReply struct {
	Payload string `json:"payload"`
	Text    string `json:"text"`
}

// Referral is set on messages from a click-to-WhatsApp ad.
type Referral struct {
	SourceURL    string `json:"source_url,omitempty"`
	SourceID     string `json:"source_id,omitempty"`
	SourceType   string `json:"source_type,omitempty"`
	Body         string `json:"body,omitempty"`
	Headline     string `json:"headline,omitempty"`
	MediaType    string `json:"media_type,omitempty"`
	ImageURL     string `json:"image_url,omitempty"`
	VideoURL     string `json:"video_url,omitempty"`
	ThumbnailURL string `json:"thumbnail_url,omitempty"`
	CtwaClid     string `json:"ctwa_clid,omitempty"`
}

// Order is a cart sent from a catalog.
type Order struct {
	CatalogID    string             `json:"catalog_id"`
	Text         string             `json:"text,omitempty"`
	ProductItems []OrderProductItem `json:"product_items"`
}

// OrderProductItem is one line of an Order.
type OrderProductItem struct {
	ProductRetailerID string  `json:"product_retailer_id"`
	Quantity          int     `json:"quantity"`
	ItemPrice         float64 `json:"item_price"`
	Currency          string  `json:"currency"`
}

// System is a system message, e.g. a user changed number.
type System struct {
	Body    string `json:"body"`
	Type    string `json:"type"`
	WaID    string `json:"wa_id,omitempty"`
	NewWaID string `json:"new_wa_id,omitempty"`
}

// Unsupported names the type of a message Cloud API does not support.
type Unsupported struct {
	Type string `json:"type"`
}

// Status values of outbound messages (D: webhooks/reference/messages/status).
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
	StatusPlayed    = "played"
)

// Status is a status update of an outbound message. Updates may arrive out
// of order and more than once; read may arrive without delivered.
type Status struct {
	ID                    string         `json:"id"`
	Status                string         `json:"status"`
	Timestamp             string         `json:"timestamp"`
	RecipientID           string         `json:"recipient_id"`
	BizOpaqueCallbackData string         `json:"biz_opaque_callback_data,omitempty"`
	Conversation          *Conversation  `json:"conversation,omitempty"`
	Pricing               *Pricing       `json:"pricing,omitempty"`
	Errors                []WebhookError `json:"errors,omitempty"`
}

// Conversation is the conversation a status belongs to (omitted from v24.0
// except in free entry point windows).
type Conversation struct {
	ID                  string             `json:"id"`
	ExpirationTimestamp string             `json:"expiration_timestamp,omitempty"`
	Origin              ConversationOrigin `json:"origin"`
}

// ConversationOrigin is the conversation's category.
type ConversationOrigin struct {
	Type string `json:"type"`
}

// Pricing is the pricing of a message.
type Pricing struct {
	Billable     *bool  `json:"billable,omitempty"`
	PricingModel string `json:"pricing_model"`
	Type         string `json:"type,omitempty"`
	Category     string `json:"category"`
}

// WebhookError is an error in a webhook: statuses[].errors[] of a failed
// message, messages[].errors[] of an unsupported message, value.errors[].
type WebhookError struct {
	Code      int               `json:"code"`
	Title     string            `json:"title"`
	Message   string            `json:"message,omitempty"`
	ErrorData *WebhookErrorData `json:"error_data,omitempty"`
	Href      string            `json:"href,omitempty"`
}

// WebhookErrorData holds the error's details.
type WebhookErrorData struct {
	Details string `json:"details"`
}
