package emulator

// MediaFile is a stored media object: uploaded by the business (POST
// /{phone-number-id}/media) or sent by a simulated user.
type MediaFile struct {
	ID            string
	PhoneNumberID string
	MimeType      string
	SHA256        string // base64, as Meta gives it
	// Data is the stored bytes themselves, shared: read it, never change it.
	Data []byte
}

// Media returns the media object id, without the access token a media URL
// needs: for the sandbox page, which shows the documents the sidecar sent.
// False if it is unknown or was deleted.
func (s *Server) Media(id string) (MediaFile, bool) {
	obj := s.media.get(id)
	if obj == nil {
		return MediaFile{}, false
	}
	return MediaFile{ID: obj.ID, PhoneNumberID: obj.PhoneNumberID, MimeType: obj.MimeType, SHA256: obj.SHA256, Data: obj.Data}, true
}
