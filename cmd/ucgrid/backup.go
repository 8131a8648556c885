package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ucgrid/ucgrid/persistence"
)

// backupCmd runs `ucgrid backup --out FILE`: a consistent snapshot of the
// directory, taken by a running node (GET /v1/backup, system owner), written
// to FILE.tmp, verified, then renamed to FILE.
func backupCmd(args []string, stdout, stderr io.Writer) int {
	var out string
	o, err := parseAdmin("backup", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "out", "", "file to write the backup to (required)")
	})
	if err == nil && out == "" {
		err = errors.New("--out is required: name the backup file")
	}
	if err != nil {
		return exitCode(stderr, "backup", err, true)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	index, size, err := takeBackup(ctx, o, out)
	if err != nil {
		return exitCode(stderr, "backup", err, false)
	}
	fmt.Fprintf(stdout, "ucgrid: backup of %s at raft index %d written to %s (%d bytes)\n", o.HTTP, index, out, size)
	return 0
}

func takeBackup(ctx context.Context, o *adminOptions, out string) (index uint64, size int64, err error) {
	resp, err := o.get(ctx, "/v1/backup")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	tmp := out + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(tmp) //nolint:errcheck // gone after the rename; removes a failed attempt
	size, err = io.Copy(f, resp.Body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, fmt.Errorf("download interrupted: %w", err)
	}
	if index, err = verifyFile(tmp); err != nil {
		return 0, 0, err
	}
	return index, size, os.Rename(tmp, out)
}

func verifyFile(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	index, err := persistence.VerifyBackup(f)
	if err != nil {
		return 0, fmt.Errorf("%s is not a complete ucgrid backup: %w", path, err)
	}
	return index, nil
}

// restoreCmd runs `ucgrid restore --from FILE --data DIR`: it creates a new
// one-node cluster in the empty DIR holding the backup's directory. Start
// it with `ucgrid serve --data DIR`; other nodes then join it fresh.
func restoreCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ucgrid restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "backup file written by ucgrid backup (required)")
	data := fs.String("data", "", "new, empty data directory (required)")
	node := fs.String("node", "", "node name of the restored node (default: a generated node-<hex>)")
	if err := fs.Parse(args); err != nil {
		return exitCode(stderr, "restore", err, true)
	}
	if *from == "" || *data == "" {
		return exitCode(stderr, "restore", errors.New("--from and --data are required"), true)
	}
	index, err := restore(*from, *data, *node)
	if err != nil {
		return exitCode(stderr, "restore", err, false)
	}
	fmt.Fprintf(stdout, "ucgrid: restored %s (raft index %d) into %s; start it with: ucgrid serve --data %s\n", *from, index, *data, *data)
	return 0
}

func restore(from, data, node string) (uint64, error) {
	index, err := verifyFile(from)
	if err != nil {
		return 0, err
	}
	if entries, err := os.ReadDir(data); err == nil && len(entries) > 0 {
		return 0, fmt.Errorf("--data %s is not empty: restore into a new directory (the old one may still be needed)", data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := persistence.Open(ctx, persistence.Config{Dir: filepath.Clean(data), NodeID: node})
	if err != nil {
		return 0, err
	}
	err = restoreInto(ctx, dir, from)
	if cerr := dir.Close(); err == nil {
		err = cerr
	}
	return index, err
}

func restoreInto(ctx context.Context, dir *persistence.Node, from string) error {
	if err := dir.WaitReady(ctx); err != nil {
		return err
	}
	f, err := os.Open(from)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := dir.Restore(ctx, f); err != nil {
		return err
	}
	// Make the restored state the newest snapshot too, so a restart does
	// not depend on replaying anything.
	return dir.Snapshot(ctx)
}
