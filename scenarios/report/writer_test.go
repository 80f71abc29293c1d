package report

import (
	"bytes"
	"slices"
	"testing"
)

func TestWriterRegistry(t *testing.T) {
	if got := Formats(); !slices.Equal(got, []string{"html", "json", "junit", "tap"}) {
		t.Fatalf("formats %v", got)
	}
	for _, f := range Formats() {
		w, ok := WriterFor(f)
		if !ok || w.Doc == "" || w.Format != f {
			t.Errorf("%s: %+v", f, w)
			continue
		}
		var b bytes.Buffer
		if err := w.Write(&b, sample()); err != nil || b.Len() == 0 {
			t.Errorf("%s: %v, %d bytes", f, err, b.Len())
		}
	}
	if w, _ := WriterFor("junit"); w.ToStdout {
		t.Error("JUnit goes to a file")
	}
	if w, _ := WriterFor("html"); w.ToStdout {
		t.Error("HTML goes to a file")
	}
	if _, ok := WriterFor("xml"); ok {
		t.Error("xml is not a format")
	}
	defer func() {
		if recover() == nil {
			t.Error("registering json twice did not panic")
		}
	}()
	Register(Writer{Format: "json", Write: WriteJSON})
}
