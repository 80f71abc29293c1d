package server

import (
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkWALCommit measures one Commit of a batch like a refresh's (one
// token family record) on a BoltStore: one append to the write-ahead log
// and one fdatasync. "prealloc" writes the log ahead in chunks of zeros (as
// the server does); "grow" appends to the end of the file, so that every
// fdatasync also records the file's new size; "bbolt" is the commit before
// the log, one bbolt transaction (two fsyncs).
//
//	go test -run '^$' -bench WALCommit -benchtime 2000x ./server/
func BenchmarkWALCommit(b *testing.B) {
	for _, c := range []struct {
		name  string
		chunk int
	}{{"prealloc", walChunk}, {"grow", 0}, {"bbolt", 0}} {
		b.Run(c.name, func(b *testing.B) {
			st, err := openBoltStore(filepath.Join(b.TempDir(), "state.db"), BoltOptions{}, func(s *BoltStore) { s.chunk = c.chunk })
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			value := make([]byte, 400)
			b.ResetTimer()
			if c.name == "bbolt" {
				for i := 0; i < b.N; i++ {
					batch := Batch{Records: []Record{{Kind: KindFamily, Key: fmt.Sprint(i % 100), Value: value}}}
					if err := st.db.Update(func(tx *bolt.Tx) error { return applyBatch(tx, batch) }); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			for i := 0; i < b.N; i++ {
				if err := st.Commit(Batch{Records: []Record{{Kind: KindFamily, Key: fmt.Sprint(i % 100), Value: value}}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
