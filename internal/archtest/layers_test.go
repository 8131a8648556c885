package archtest

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/ucgrid/ucgrid/"

// rows are docs/architecture.md's rows, bottom first: each package's row
// is that of its longest listed prefix. A package imports only from lower
// rows, or from its own row where sideways is true.
var rows = []struct {
	prefixes []string
	sideways bool
}{
	{prefixes: []string{"persistence/dirpb"}},
	{prefixes: []string{"dialplan"}},
	{prefixes: []string{"persistence"}},
	{prefixes: []string{"internal/throttle"}},
	{prefixes: []string{"actors/rights", "actors/presence", "actors/linestate", "actors/hunt", "actors/officehours",
		"actors/dirrights", "actors/journal", "actors/actorspb"}, sideways: true},
	{prefixes: []string{"actors"}},
	{prefixes: []string{"cluster"}, sideways: true},
	{prefixes: []string{"cluster/peers"}},
	{prefixes: []string{"api", "sip"}},
	{prefixes: []string{"demo", "ldapsync"}},
	{prefixes: []string{"node"}},
	{prefixes: []string{"bench"}},
	{prefixes: []string{"cmd"}},
}

// rowOf is the row of package path (without the module prefix), or -1
// for the test support under internal/ that no row lists.
func rowOf(path string) int {
	row, best := -1, 0
	for i, r := range rows {
		for _, p := range r.prefixes {
			if (path == p || strings.HasPrefix(path, p+"/")) && len(p) > best {
				row, best = i, len(p)
			}
		}
	}
	return row
}

// api and sip share a row but not a dependency: neither imports the other.
func sameRowAllowed(from, to string) bool {
	top := func(p string) string { first, _, _ := strings.Cut(p, "/"); return first }
	return rows[rowOf(from)].sideways || top(from) == top(to) && from != to && strings.HasPrefix(to, top(from))
}

func TestImports_GoDownTheRows(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "github.com/ucgrid/ucgrid/...")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		fields := strings.Fields(line)
		from := strings.TrimPrefix(fields[0], module)
		fr := rowOf(from)
		if fr < 0 {
			continue // test support
		}
		pkgs++
		for _, imp := range fields[1:] {
			to, ours := strings.CutPrefix(imp, module)
			if !ours {
				continue
			}
			tr := rowOf(to)
			switch {
			case tr < 0:
				t.Errorf("%s imports test support %s", from, to)
			case tr > fr:
				t.Errorf("%s imports %s, a row above it (docs/architecture.md)", from, to)
			case tr == fr && !sameRowAllowed(from, to):
				t.Errorf("%s imports %s, beside it in its row", from, to)
			}
		}
	}
	if pkgs < 20 {
		t.Fatalf("only %d packages listed: is the module path right?", pkgs)
	}
}
