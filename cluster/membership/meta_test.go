package membership

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMeta_RoundTrips(t *testing.T) {
	tests := []struct {
		name string
		meta Meta
	}{
		{"empty", Meta{}},
		{"actor member", Meta{ActorAddr: "10.0.0.1:8090", ActorID: "abc", Kinds: []string{"user", "group"}}},
		{"client", Meta{ActorAddr: "10.0.0.1:8091", ActorID: "def", Client: true}},
		{"raft voter", Meta{RaftAddr: "10.0.0.1:8300", Roles: []string{"voter"}}},
		{"with a site", Meta{RaftAddr: "10.0.0.1:8300", Site: "munich"}},
		{"with a site pool", Meta{RaftAddr: "10.0.0.1:8300", Site: "munich", SiteGossipAddr: "10.0.0.1:7947"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeMeta(tt.meta)
			if err != nil {
				t.Fatalf("EncodeMeta: %v", err)
			}
			got, err := DecodeMeta(b)
			if err != nil {
				t.Fatalf("DecodeMeta(%s): %v", b, err)
			}
			if !reflect.DeepEqual(got, tt.meta) {
				t.Errorf("round trip of %s = %+v, want %+v", b, got, tt.meta)
			}
		})
	}
}

func TestMeta_WireFormatIsStable(t *testing.T) {
	b, err := EncodeMeta(Meta{ActorAddr: "h:1", ActorID: "x", Kinds: []string{"k"}, RaftAddr: "h:2", Roles: []string{"voter"}})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"v":1,"a":"h:1","id":"x","k":["k"],"r":"h:2","ro":["voter"]}`
	if string(b) != want {
		t.Errorf("EncodeMeta = %s, want %s", b, want)
	}
}

func TestMeta_RejectsOversize(t *testing.T) {
	kinds := make([]string, 60)
	for i := range kinds {
		kinds[i] = strings.Repeat("k", 10)
	}
	_, err := EncodeMeta(Meta{Kinds: kinds})
	if !errors.Is(err, ErrMetaTooLarge) {
		t.Fatalf("EncodeMeta(60 kinds) error = %v, want ErrMetaTooLarge", err)
	}
}

func TestMeta_DecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr error
	}{
		{"newer major version", `{"v":2,"a":"h:1"}`, ErrMetaVersion},
		{"missing version", `{"a":"h:1"}`, ErrMetaVersion},
		{"not json", `\x00garbage`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeMeta([]byte(tt.in))
			if err == nil {
				t.Fatalf("DecodeMeta(%q) succeeded", tt.in)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("DecodeMeta(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestMeta_IgnoresUnknownFieldsOfSameVersion(t *testing.T) {
	got, err := DecodeMeta([]byte(`{"v":1,"a":"h:1","zone":"b"}`))
	if err != nil {
		t.Fatalf("DecodeMeta: %v", err)
	}
	if got.ActorAddr != "h:1" {
		t.Errorf("ActorAddr = %q, want h:1", got.ActorAddr)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add([]byte(`{"v":1,"a":"h:1","id":"x","k":["k"]}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes (when it fits) to something that
		// decodes to the same value.
		again, err := EncodeMeta(m)
		if err != nil {
			return
		}
		m2, err := DecodeMeta(again)
		if err != nil || !reflect.DeepEqual(normalize(m), normalize(m2)) {
			t.Fatalf("re-decode of %s = %+v, %v; want %+v", again, m2, err, m)
		}
	})
}

// normalize maps empty slices to nil: JSON omits both.
func normalize(m Meta) Meta {
	if len(m.Kinds) == 0 {
		m.Kinds = nil
	}
	if len(m.Roles) == 0 {
		m.Roles = nil
	}
	return m
}
