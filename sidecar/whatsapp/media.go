package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

// MediaKind is the message type a MIME type can be sent as.
type MediaKind string

// Media kinds.
const (
	MediaAudio    MediaKind = "audio"
	MediaDocument MediaKind = "document"
	MediaImage    MediaKind = "image"
	MediaSticker  MediaKind = "sticker"
	MediaVideo    MediaKind = "video"
)

// Supported media types and size limits
// (D: business-phone-numbers/media, "Supported media types").
var mediaTypes = map[string]MediaKind{
	"audio/aac": MediaAudio, "audio/amr": MediaAudio, "audio/mpeg": MediaAudio,
	"audio/mp4": MediaAudio, "audio/ogg": MediaAudio,
	"text/plain":               MediaDocument,
	"application/vnd.ms-excel": MediaDocument,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": MediaDocument,
	"application/msword": MediaDocument,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   MediaDocument,
	"application/vnd.ms-powerpoint":                                             MediaDocument,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": MediaDocument,
	"application/pdf": MediaDocument,
	"image/jpeg":      MediaImage, "image/png": MediaImage,
	"image/webp": MediaSticker,
	"video/mp4":  MediaVideo, "video/3gpp": MediaVideo,
}

var mediaLimits = map[MediaKind]int64{
	MediaAudio:    16 << 20,
	MediaDocument: 100 << 20,
	MediaImage:    5 << 20,
	// Animated stickers may have 500 KB, static ones 100 KB; the client
	// cannot tell them apart, so it applies the larger limit.
	MediaSticker: 500 << 10,
	MediaVideo:   16 << 20,
}

// MediaLimit returns the kind and the maximum size in bytes of media of the
// given MIME type, or ok false when WhatsApp does not accept that type.
func MediaLimit(mimeType string) (kind MediaKind, maxBytes int64, ok bool) {
	mt, _, err := mime.ParseMediaType(mimeType)
	if err != nil {
		return "", 0, false
	}
	kind, ok = mediaTypes[mt]
	return kind, mediaLimits[kind], ok
}

// UploadMedia uploads media for phoneNumberID (multipart, D:
// business-phone-numbers/media, "Upload media") and returns its media ID,
// valid 30 days. The MIME type and size are checked against Meta's table
// before anything is sent.
func (c *Client) UploadMedia(ctx context.Context, phoneNumberID, filename, mimeType string, body io.Reader) (string, error) {
	if err := checkID("phone number ID", phoneNumberID); err != nil {
		return "", fmt.Errorf("upload media: %w", err)
	}
	kind, limit, ok := MediaLimit(mimeType)
	if !ok {
		return "", fmt.Errorf("upload media: %w", invalid("type", "%q is not a supported media type", mimeType))
	}
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return "", fmt.Errorf("upload media: read file: %w", err)
	}
	if int64(len(data)) > limit {
		return "", fmt.Errorf("upload media: %w", invalid("file", "more than %d bytes, the limit for %s", limit, kind))
	}
	if len(data) == 0 {
		return "", fmt.Errorf("upload media: %w", invalid("file", "empty"))
	}

	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("messaging_product", "whatsapp")
	_ = w.WriteField("type", mimeType)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+quoteEscaper.Replace(filename)+`"`)
	h.Set("Content-Type", mimeType)
	part, err := w.CreatePart(h)
	if err != nil {
		return "", fmt.Errorf("upload media: %w", err)
	}
	_, _ = part.Write(data)
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("upload media: %w", err)
	}

	raw, err := c.call(ctx, callSpec{
		endpoint: endpointMedia, method: http.MethodPost,
		url: c.base + "/" + phoneNumberID + "/media", body: buf.Bytes(), contentType: w.FormDataContentType(),
	})
	if err != nil {
		return "", fmt.Errorf("upload media: %w", err)
	}
	var resp struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil || resp.ID == "" {
		return "", fmt.Errorf("upload media: answer without id: %w", ErrOutcomeUnknown)
	}
	return resp.ID, nil
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "")

// MediaInfo is the answer of GET /{media-id}: URL is valid 5 minutes and is
// downloaded with DownloadMedia.
type MediaInfo struct {
	ID       string
	URL      string
	MimeType string
	// SHA256 is base64.
	SHA256   string
	FileSize int64
}

type mediaInfoResponse struct {
	ID       string          `json:"id"`
	URL      string          `json:"url"`
	MimeType string          `json:"mime_type"`
	SHA256   string          `json:"sha256"`
	FileSize json.RawMessage `json:"file_size"`
}

// MediaInfo retrieves the download URL of a media ID, e.g. one from an
// inbound image webhook (D: business-phone-numbers/media, "Retrieve media URL").
func (c *Client) MediaInfo(ctx context.Context, mediaID string) (MediaInfo, error) {
	if err := checkID("media ID", mediaID); err != nil {
		return MediaInfo{}, fmt.Errorf("media info: %w", err)
	}
	raw, err := c.call(ctx, callSpec{
		endpoint: endpointMediaInfo, method: http.MethodGet, url: c.base + "/" + mediaID, idempotent: true,
	})
	if err != nil {
		return MediaInfo{}, fmt.Errorf("media info: %w", err)
	}
	var r mediaInfoResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return MediaInfo{}, fmt.Errorf("media info: decode: %w", err)
	}
	// file_size is a string in some of Meta's examples, a number in others.
	size, _ := strconv.ParseInt(strings.Trim(string(r.FileSize), `"`), 10, 64)
	return MediaInfo{ID: r.ID, URL: r.URL, MimeType: r.MimeType, SHA256: r.SHA256, FileSize: size}, nil
}

// DownloadMedia downloads a media URL from MediaInfo with the access token
// (D: business-phone-numbers/media, "Download media"). The token is only sent
// to Meta's hosts (fbsbx.com, facebook.com, whatsapp.net) or the BaseURL's
// host. The body is capped by Options.MaxDownloadBytes.
func (c *Client) DownloadMedia(ctx context.Context, mediaURL string) ([]byte, string, error) {
	u, err := url.Parse(mediaURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, "", fmt.Errorf("download media: %w", invalid("url", "not an http(s) URL"))
	}
	if !c.trustedHost(u) {
		return nil, "", fmt.Errorf("download media: %w", invalid("url", "host %q is not Meta's: the token is not sent there", u.Hostname()))
	}
	var h http.Header
	data, err := c.call(ctx, callSpec{
		endpoint: endpointMediaDownload, method: http.MethodGet, url: mediaURL,
		idempotent: true, maxBytes: c.maxDL, header: &h,
	})
	if err != nil {
		return nil, "", fmt.Errorf("download media: %w", err)
	}
	return data, h.Get("Content-Type"), nil
}

func (c *Client) trustedHost(u *url.URL) bool {
	if u.Host == c.baseHost {
		return true
	}
	if u.Scheme != "https" {
		return false
	}
	host := u.Hostname()
	for _, suffix := range []string{"fbsbx.com", "facebook.com", "whatsapp.net"} {
		if host == suffix || strings.HasSuffix(host, "."+suffix) {
			return true
		}
	}
	return false
}
