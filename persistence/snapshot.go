package persistence

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Snapshot stream format (Raft snapshots and backups):
//
//	magic "UCGSNAP\x01"
//	uvarint n, SnapshotHeader (n bytes)
//	repeated: uvarint len(key), key, uvarint len(value), value   (keys under "d/", in order)
//	uvarint 0
//	CRC-32C (big endian) of everything before it
//
// It holds the directory and journal, never the Raft log or node metadata.
var snapshotMagic = []byte("UCGSNAP\x01")

// Limits that keep a corrupt stream from allocating without bound.
const (
	maxSnapshotKey   = 4 << 10
	maxSnapshotValue = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// writeSnapshot streams the directory as seen by r (a Pebble snapshot).
func writeSnapshot(r pebble.Reader, w io.Writer) (*dirpb.SnapshotHeader, error) {
	var applied dirpb.Applied
	if _, err := getProto(r, keyApplied, &applied); err != nil {
		return nil, err
	}
	hdr := &dirpb.SnapshotHeader{SchemaVersion: SchemaVersion, AppliedIndex: applied.Index, AppliedTerm: applied.Term}
	bw := bufio.NewWriterSize(w, 64<<10)
	h := crc32.New(castagnoli)
	sw := &snapWriter{w: io.MultiWriter(bw, h)}
	sw.raw(snapshotMagic)
	sw.record(mustMarshal(hdr))
	err := view{r}.scan([]byte(nsDir), []byte(nsDirEnd), func(k, v []byte) error {
		sw.record(k)
		sw.record(v)
		return sw.err
	})
	sw.uvarint(0)
	if err == nil {
		err = sw.err
	}
	if err == nil {
		err = binary.Write(bw, binary.BigEndian, h.Sum32())
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("persistence: write snapshot: %w", err)
	}
	return hdr, nil
}

func mustMarshal(m proto.Message) []byte {
	b, err := marshal.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("persistence: encode %T: %v", m, err)) // only fails on invalid UTF-8 we never produce
	}
	return b
}

// snapWriter remembers the first write error.
type snapWriter struct {
	w   io.Writer
	err error
	buf [binary.MaxVarintLen64]byte
}

func (s *snapWriter) raw(p []byte) {
	if s.err == nil {
		_, s.err = s.w.Write(p)
	}
}

func (s *snapWriter) uvarint(n uint64) { s.raw(s.buf[:binary.PutUvarint(s.buf[:], n)]) }

func (s *snapWriter) record(p []byte) {
	s.uvarint(uint64(len(p)))
	s.raw(p)
}

// readSnapshot validates a stream and fills b with what replaces the
// directory: a range deletion of the whole directory, every record, and
// the applied index. The caller commits b only when this succeeds, so a
// malformed or truncated stream changes nothing.
func readSnapshot(r io.Reader, b *pebble.Batch) (*dirpb.SnapshotHeader, error) {
	if err := b.DeleteRange([]byte(nsDir), []byte(nsDirEnd), nil); err != nil {
		return nil, fmt.Errorf("persistence: restore: %w", err)
	}
	hdr, err := scanSnapshot(r, func(k, v []byte) error {
		if err := b.Set(k, v, nil); err != nil {
			return fmt.Errorf("persistence: restore: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	applied := &dirpb.Applied{Index: hdr.AppliedIndex, Term: hdr.AppliedTerm}
	if err := putProto(b, keyApplied, applied); err != nil {
		return nil, err
	}
	return hdr, nil
}

// verifySnapshot reads a whole stream and checks its form and checksum.
func verifySnapshot(r io.Reader) (*dirpb.SnapshotHeader, error) {
	return scanSnapshot(r, func(k, v []byte) error { return nil })
}

// scanSnapshot parses a stream, calling set for every record, and checks
// the checksum at the end.
func scanSnapshot(r io.Reader, set func(k, v []byte) error) (*dirpb.SnapshotHeader, error) {
	sr := &snapReader{r: bufio.NewReaderSize(r, 64<<10), h: crc32.New(castagnoli)}
	hdr, err := sr.header()
	if err != nil {
		return nil, err
	}
	if err := sr.records(set); err != nil {
		return nil, err
	}
	if err := sr.checksum(); err != nil {
		return nil, err
	}
	return hdr, nil
}

type snapReader struct {
	r *bufio.Reader
	h hash.Hash32
}

var errBadSnapshot = errors.New("persistence: not a valid ucgrid snapshot")

func (s *snapReader) ReadByte() (byte, error) {
	c, err := s.r.ReadByte()
	if err == nil {
		s.h.Write([]byte{c})
	}
	return c, err
}

func (s *snapReader) read(n uint64, limit uint64, what string) ([]byte, error) {
	if n > limit {
		return nil, fmt.Errorf("%w: %s of %d bytes", errBadSnapshot, what, n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(s.r, p); err != nil {
		return nil, fmt.Errorf("%w: truncated %s: %w", errBadSnapshot, what, err)
	}
	s.h.Write(p)
	return p, nil
}

func (s *snapReader) record(limit uint64, what string) ([]byte, error) {
	n, err := binary.ReadUvarint(s)
	if err != nil {
		return nil, fmt.Errorf("%w: truncated %s length: %w", errBadSnapshot, what, err)
	}
	return s.read(n, limit, what)
}

func (s *snapReader) header() (*dirpb.SnapshotHeader, error) {
	magic, err := s.read(uint64(len(snapshotMagic)), uint64(len(snapshotMagic)), "magic")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(magic, snapshotMagic) {
		return nil, fmt.Errorf("%w: bad magic %q", errBadSnapshot, magic)
	}
	raw, err := s.record(maxSnapshotKey, "header")
	if err != nil {
		return nil, err
	}
	var hdr dirpb.SnapshotHeader
	if err := proto.Unmarshal(raw, &hdr); err != nil {
		return nil, fmt.Errorf("%w: header: %w", errBadSnapshot, err)
	}
	if hdr.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%w: schema version %d, this build reads %d", errBadSnapshot, hdr.SchemaVersion, SchemaVersion)
	}
	return &hdr, nil
}

func (s *snapReader) records(set func(k, v []byte) error) error {
	for {
		k, err := s.record(maxSnapshotKey, "key")
		if err != nil {
			return err
		}
		if len(k) == 0 {
			return nil
		}
		if !bytes.HasPrefix(k, []byte(nsDir)) {
			return fmt.Errorf("%w: key %q outside the directory", errBadSnapshot, k)
		}
		v, err := s.record(maxSnapshotValue, "value")
		if err != nil {
			return err
		}
		if err := set(k, v); err != nil {
			return err
		}
	}
}

func (s *snapReader) checksum() error {
	want := s.h.Sum32()
	var got uint32
	if err := binary.Read(s.r, binary.BigEndian, &got); err != nil {
		return fmt.Errorf("%w: truncated checksum: %w", errBadSnapshot, err)
	}
	if got != want {
		return fmt.Errorf("%w: checksum %08x, computed %08x", errBadSnapshot, got, want)
	}
	return nil
}
