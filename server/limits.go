package server

// maxFamiliesPerOwner bounds the token families (logins of a user,
// device-code exchanges of a device) that live at once: each lives as long
// as its refresh token (90 days by default), so repeated logins would
// otherwise pile up. A new one beyond the bound ends the oldest.
const maxFamiliesPerOwner = 1000

// capFamiliesLocked makes room for one more family of kind for owner (a
// username or a client_id): while the owner has s.maxFamilies or more, its
// oldest one is dropped. It costs O(1) whatever the number of families of
// others: the owner's families are a list, oldest first. It returns the
// records of what it dropped.
func (s *Server) capFamiliesLocked(kind famKind, name string) []Record {
	o := s.st.owners[ownerKey{kind, name}]
	var recs []Record
	for o != nil && o.n >= s.maxFamilies && o.first != nil {
		recs = append(recs, s.st.dropFamily(o.first))
	}
	return recs
}
