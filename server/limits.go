package server

// maxFamiliesPerOwner bounds the token families (logins of a user,
// device-code exchanges of a device) that live at once: each lives as long
// as its refresh token (90 days by default), so repeated logins would
// otherwise pile up. A new one beyond the bound ends the oldest.
const maxFamiliesPerOwner = 1000

// capFamiliesLocked makes room for one more family of kind for owner (a
// username or a client_id): when the owner already has s.maxFamilies, the
// oldest one is dropped. It returns the records of what it dropped.
func (s *Server) capFamiliesLocked(kind, owner string) []Record {
	if len(s.st.families) < s.maxFamilies {
		return nil // fast path: the owner cannot have that many
	}
	var oldest *family
	n := 0
	for _, f := range s.st.families {
		if f.Kind != kind || (kind == familyUser && f.Username != owner) || (kind == familyDevice && f.ClientID != owner) {
			continue
		}
		n++
		if oldest == nil || f.CreatedAt.Before(oldest.CreatedAt) || (f.CreatedAt.Equal(oldest.CreatedAt) && f.ID < oldest.ID) {
			oldest = f
		}
	}
	if n < s.maxFamilies {
		return nil
	}
	return []Record{s.st.dropFamily(oldest)}
}
