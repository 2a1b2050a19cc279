package emulator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
)

// downloadPath mimics Meta's lookaside.fbsbx.com media URLs.
const downloadPath = "/whatsapp_business/attachments/"

// mediaURLTTL: media URLs are valid 5 minutes
// (D: business-phone-numbers/media, "Retrieve media URL").
const mediaURLTTL = 5 * time.Minute

type mediaObject struct {
	ID            string
	PhoneNumberID string
	MimeType      string
	SHA256        string
	Data          []byte
}

type mediaStore struct {
	mu       sync.Mutex
	maxBytes int64
	used     int64
	objects  map[string]*mediaObject
	key      []byte
}

func newMediaStore(maxBytes int64) *mediaStore {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &mediaStore{maxBytes: maxBytes, objects: map[string]*mediaObject{}, key: key}
}

func (m *mediaStore) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects, m.used = map[string]*mediaObject{}, 0
}

var errMediaFull = errors.New("emulator media store full")

func (m *mediaStore) put(phoneID, mimeType string, data []byte) (*mediaObject, error) {
	sum := sha256.Sum256(data)
	obj := &mediaObject{ID: numericID(), PhoneNumberID: phoneID, MimeType: mimeType,
		SHA256: base64.StdEncoding.EncodeToString(sum[:]), Data: data}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.used+int64(len(data)) > m.maxBytes {
		return nil, errMediaFull
	}
	m.objects[obj.ID] = obj
	m.used += int64(len(data))
	return obj, nil
}

func (m *mediaStore) get(id string) *mediaObject {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.objects[id]
}

func (m *mediaStore) delete(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	obj := m.objects[id]
	if obj == nil {
		return false
	}
	delete(m.objects, id)
	m.used -= int64(len(obj.Data))
	return true
}

func (m *mediaStore) sign(id, ext string) string {
	mac := hmac.New(sha256.New, m.key)
	mac.Write([]byte(id + "|" + ext))
	return hex.EncodeToString(mac.Sum(nil))[:32]
}

// numericID returns a 16-digit Graph-like object ID.
func numericID() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(9_000_000_000_000_000))
	return strconv.FormatInt(n.Int64()+1_000_000_000_000_000, 10)
}

// serveUpload handles POST /{phone-number-id}/media, multipart with
// messaging_product, file and type (D: business-phone-numbers/media).
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request, phoneID string) {
	r.Body = http.MaxBytesReader(w, r.Body, 101<<20)
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		s.graphError(w, r, nil, http.StatusBadRequest, errInvalidParameter("multipart/form-data body required: "+err.Error()))
		return
	}
	defer r.MultipartForm.RemoveAll()
	if r.FormValue("messaging_product") != "whatsapp" {
		s.graphError(w, r, nil, http.StatusBadRequest, graphErr{Code: 100, HTTP: 400,
			Message: "(#100) The parameter messaging_product is required.", Details: "The parameter messaging_product is required."})
		return
	}
	f, fh, err := r.FormFile("file")
	if err != nil {
		s.graphError(w, r, nil, http.StatusBadRequest, graphErr{Code: 100, HTTP: 400,
			Message: "(#100) The parameter file is required.", Details: "The parameter file is required."})
		return
	}
	defer f.Close()
	mimeType := r.FormValue("type")
	if mimeType == "" {
		mimeType = fh.Header.Get("Content-Type")
	}
	kind, limit, ok := whatsapp.MediaLimit(mimeType)
	if !ok {
		s.graphError(w, r, nil, http.StatusBadRequest, metaError(131053, fmt.Sprintf("Unsupported file type: %s", mimeType)))
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		s.graphError(w, r, nil, http.StatusBadRequest, errInvalidParameter("file: "+err.Error()))
		return
	}
	if int64(len(data)) > limit {
		s.graphError(w, r, nil, http.StatusBadRequest, metaError(131053,
			fmt.Sprintf("File too big: max %d bytes for %s media", limit, kind)))
		return
	}
	if len(data) == 0 {
		s.graphError(w, r, nil, http.StatusBadRequest, metaError(131053, "Empty file"))
		return
	}
	obj, err := s.media.put(phoneID, mimeType, data)
	if err != nil {
		s.graphError(w, r, nil, http.StatusServiceUnavailable, metaError(133004, err.Error()))
		return
	}
	resp := []byte(`{"id":"` + obj.ID + `"}`)
	// Recorded before the answer: a client that got it finds it in Requests.
	s.store.record(r, nil, http.StatusOK, resp, s.now())
	writeJSON(w, http.StatusOK, resp)
}

type mediaInfoJSON struct {
	MessagingProduct string `json:"messaging_product"`
	URL              string `json:"url"`
	MimeType         string `json:"mime_type"`
	SHA256           string `json:"sha256"`
	FileSize         string `json:"file_size"`
	ID               string `json:"id"`
}

// serveMediaObject handles GET and DELETE /{media-id}.
func (s *Server) serveMediaObject(w http.ResponseWriter, r *http.Request, id string) {
	obj := s.media.get(id)
	if obj == nil {
		s.graphError(w, r, nil, http.StatusBadRequest, errUnknownObject(id, map[string]string{"GET": "get", "DELETE": "delete"}[r.Method]))
		return
	}
	if pn := r.URL.Query().Get("phone_number_id"); pn != "" && pn != obj.PhoneNumberID {
		s.graphError(w, r, nil, http.StatusBadRequest, errInvalidParameter("phone_number_id: media was not uploaded by this phone number"))
		return
	}
	if r.Method == http.MethodDelete {
		s.media.delete(id)
		resp := []byte(`{"success":true}`)
		// Recorded before the answer: a client that got it finds it in Requests.
		s.store.record(r, nil, http.StatusOK, resp, s.now())
		writeJSON(w, http.StatusOK, resp)
		return
	}
	ext := strconv.FormatInt(s.now().Add(mediaURLTTL).Unix(), 10)
	q := url.Values{"mid": {id}, "ext": {ext}, "hash": {s.media.sign(id, ext)}}
	resp := jsonBody(mediaInfoJSON{
		MessagingProduct: "whatsapp", URL: s.URL() + downloadPath + "?" + q.Encode(),
		MimeType: obj.MimeType, SHA256: obj.SHA256, FileSize: strconv.Itoa(len(obj.Data)), ID: id,
	})
	// Recorded before the answer: a client that got it finds it in Requests.
	s.store.record(r, nil, http.StatusOK, resp, s.now())
	writeJSON(w, http.StatusOK, resp)
}

// serveDownload serves a media URL; like Meta it requires the access token
// and answers 404 for an expired or altered URL
// (D: business-phone-numbers/media, "Download media").
func (s *Server) serveDownload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if ge, status, ok := s.checkAuth(r); !ok {
		s.graphError(w, r, nil, status, ge)
		return
	}
	q := r.URL.Query()
	id, ext := q.Get("mid"), q.Get("ext")
	exp, err := strconv.ParseInt(ext, 10, 64)
	obj := s.media.get(id)
	if err != nil || obj == nil || !hmac.Equal([]byte(q.Get("hash")), []byte(s.media.sign(id, ext))) || s.now().Unix() > exp {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", obj.MimeType)
	w.Header().Set("Content-Length", strconv.Itoa(len(obj.Data)))
	_, _ = w.Write(obj.Data)
}

// PutMedia stores media as if a user had sent it and returns its ID, for
// inbound media webhooks.
func (s *Server) PutMedia(phoneNumberID, mimeType string, data []byte) (string, error) {
	obj, err := s.media.put(phoneNumberID, mimeType, data)
	if err != nil {
		return "", err
	}
	return obj.ID, nil
}
