package rights

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tsvTable is a spec table read from testdata: the header and the data rows,
// comments and blank lines dropped.
type tsvTable struct {
	header []string
	rows   [][]string
}

func readTSV(t *testing.T, name string) tsvTable {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("open spec table: %v", err)
	}
	defer f.Close()
	var tab tsvTable
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		cells := strings.Split(line, "\t")
		if tab.header == nil {
			tab.header = cells
			continue
		}
		tab.rows = append(tab.rows, cells)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return tab
}

// cell returns row[col], or "" where a trailing empty cell was cut.
func cell(row []string, col int) string {
	if col < len(row) {
		return row[col]
	}
	return ""
}

// column returns the index of a header name, failing the test if absent.
func (tab tsvTable) column(t *testing.T, name string) int {
	t.Helper()
	for i, h := range tab.header {
		if h == name {
			return i
		}
	}
	t.Fatalf("spec table has no column %q (header %q)", name, tab.header)
	return -1
}
