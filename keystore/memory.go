package keystore

import "sync"

// Memory is a Store in memory, for tests. It applies the same name and size
// checks as the real backends. The zero value is not usable; call NewMemory.
type Memory struct {
	mu sync.Mutex
	m  map[string]map[string]string
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{m: map[string]map[string]string{}} }

// Name returns "memory".
func (s *Memory) Name() string { return "memory" }

// Get implements Store.
func (s *Memory) Get(profile, item string) (string, error) {
	if err := checkKey(profile, item); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[profile][item]
	if !ok {
		return "", notFound(s.Name(), profile, item)
	}
	return v, nil
}

// Set implements Store.
func (s *Memory) Set(profile, item, value string) error {
	return s.SetItems(profile, []Entry{{item, value}})
}

// SetItems implements Batcher: all entries are stored, or none.
func (s *Memory) SetItems(profile string, entries []Entry) error {
	for _, e := range entries {
		if err := checkSet(profile, e.Item, e.Value); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[profile] == nil {
		s.m[profile] = map[string]string{}
	}
	for _, e := range entries {
		s.m[profile][e.Item] = e.Value
	}
	return nil
}

// Delete implements Store.
func (s *Memory) Delete(profile, item string) error {
	if err := checkKey(profile, item); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m[profile], item)
	return nil
}
