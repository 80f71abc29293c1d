package server

import (
	"sort"
	"sync"
)

// Kind names a class of stored records.
type Kind string

// The kinds of records the server writes through its Store. Values are JSON
// documents private to this package; a Store treats them as opaque bytes.
const (
	KindDevice   Kind = "device"   // key: client_id
	KindFamily   Kind = "family"   // key: family id; holds token hashes only
	KindUser     Kind = "user"     // key: username; users changed through the API
	KindDocument Kind = "document" // key: document id; metadata only
	KindKey      Kind = "key"      // key: key name; switches changed at run time
	KindSettings Kind = "settings" // key: "account"; lifetimes changed at run time
	KindClock    Kind = "clock"    // key: "fake"; the fake clock's time
)

// Kinds lists every record kind, in a fixed order.
var Kinds = []Kind{KindDevice, KindFamily, KindUser, KindDocument, KindKey, KindSettings, KindClock}

// Record is one stored value. A nil Value in a Batch deletes the record.
type Record struct {
	Kind  Kind
	Key   string
	Value []byte
}

// Batch is one atomic change. With Reset set, every stored record is dropped
// before Records are written (the admin API's reset).
type Batch struct {
	Reset   bool
	Records []Record
}

// Store is where the server writes every state mutation: devices, token
// families (hashes only), users changed through the API, document metadata,
// key switches, settings and the fake clock. The server keeps its working
// state in memory and commits the changes of concurrent requests together,
// in the order it made them, without holding its state lock; a response is
// sent only after the Commit that holds every change made before it (the
// request's own and any it saw) returned, so a durable Store makes every
// acknowledged change survive a crash. Login throttling and injected faults
// are never stored: they are in memory only.
//
// Implementations must be safe for concurrent use; the server never calls
// Commit concurrently with itself, but Load and Close may come from any
// goroutine.
type Store interface {
	// Load calls fn for every stored record, in any order.
	Load(fn func(Record) error) error
	// Commit applies b atomically; when it returns nil the change is durable
	// (as durable as the implementation promises).
	Commit(b Batch) error
	// Close releases the store; later calls fail.
	Close() error
}

// nopStore is the Store of a server without one (Options.Store nil): its
// state lives in memory only, so the records are not kept a second time.
type nopStore struct{}

func (nopStore) Load(func(Record) error) error { return nil }
func (nopStore) Commit(Batch) error            { return nil }
func (nopStore) Close() error                  { return nil }

// MemoryStore is a Store that keeps records in memory. Several servers created
// one after the other on the same MemoryStore see each other's state, as a
// restart on the same file would; Close does not discard the records.
type MemoryStore struct {
	mu      sync.Mutex
	records map[Kind]map[string][]byte
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{records: map[Kind]map[string][]byte{}}
}

// Load implements Store.
func (m *MemoryStore) Load(fn func(Record) error) error {
	m.mu.Lock()
	var recs []Record
	for _, k := range Kinds {
		keys := make([]string, 0, len(m.records[k]))
		for key := range m.records[k] {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			recs = append(recs, Record{Kind: k, Key: key, Value: append([]byte(nil), m.records[k][key]...)})
		}
	}
	m.mu.Unlock()
	for _, r := range recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// Commit implements Store.
func (m *MemoryStore) Commit(b Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b.Reset {
		m.records = map[Kind]map[string][]byte{}
	}
	for _, r := range b.Records {
		if r.Value == nil {
			delete(m.records[r.Kind], r.Key)
			continue
		}
		if m.records[r.Kind] == nil {
			m.records[r.Kind] = map[string][]byte{}
		}
		m.records[r.Kind][r.Key] = append([]byte(nil), r.Value...)
	}
	return nil
}

// Close implements Store. The records stay, so a new server may Load them.
func (m *MemoryStore) Close() error {
	return nil
}

// Len returns the number of stored records (for tests and measurements).
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, recs := range m.records {
		n += len(recs)
	}
	return n
}
