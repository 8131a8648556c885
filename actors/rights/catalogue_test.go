package rights

import "testing"

// The Go tables must be the spec tables, cell by cell: names, order, the
// per-level cells, trust marks and notes.
func TestCatalogue_RightsMatchSpecTable(t *testing.T) {
	tab := readTSV(t, "rights.tsv")
	if len(tab.rows) != NumRights {
		t.Fatalf("spec has %d rights, catalogue %d", len(tab.rows), NumRights)
	}
	trustCol := tab.column(t, "trust")
	for i, row := range tab.rows {
		d := catalogue[i]
		if d.name != row[0] {
			t.Errorf("right %d: catalogue %q, spec %q", i, d.name, row[0])
		}
		for l := Blocked; l <= Personal; l++ {
			if got, want := d.cells[l], cell(row, tab.column(t, l.String())); got != want {
				t.Errorf("%s at %s: catalogue %q, spec %q", d.name, l, got, want)
			}
		}
		if got, want := d.trust, cell(row, trustCol) == "trust"; got != want {
			t.Errorf("%s trust: catalogue %v, spec %v", d.name, got, want)
		}
	}
}

func TestCatalogue_FieldsMatchSpecTable(t *testing.T) {
	tab := readTSV(t, "contact_fields.tsv")
	if len(tab.rows) != NumFields {
		t.Fatalf("spec has %d fields, catalogue %d", len(tab.rows), NumFields)
	}
	noteCol := tab.column(t, "note")
	for i, row := range tab.rows {
		d := fieldCatalogue[i]
		if d.name != row[0] {
			t.Errorf("field %d: catalogue %q, spec %q", i, d.name, row[0])
		}
		for l := Blocked; l <= Personal; l++ {
			if got, want := d.cells[l], cell(row, tab.column(t, l.String())) == "1"; got != want {
				t.Errorf("%s at %s: catalogue %v, spec %v", d.name, l, got, want)
			}
		}
		if got, want := d.adOnly, cell(row, noteCol) == "ad_only"; got != want {
			t.Errorf("%s ad_only: catalogue %v, spec %v", d.name, got, want)
		}
	}
}

func TestCatalogue_ServicesMatchSpecTable(t *testing.T) {
	tab := readTSV(t, "services.tsv")
	if len(tab.rows) != NumServices {
		t.Fatalf("spec has %d services, catalogue %d", len(tab.rows), NumServices)
	}
	for i, row := range tab.rows {
		if got := Service(i).Name(); got != row[0] {
			t.Errorf("service %d: catalogue %q, spec %q", i, got, row[0])
		}
		sv, err := ParseService(row[0])
		if err != nil || sv != Service(i) {
			t.Errorf("ParseService(%q) = %v, %v; want %d", row[0], sv, err, i)
		}
	}
}

// One test per level: every right of rights.tsv, as the level's set holds it.
// The expected grade is read from the spec cell, not from the Go table.
func TestLevelSet_EveryRightCell(t *testing.T) {
	tab := readTSV(t, "rights.tsv")
	for l := Blocked; l <= Personal; l++ {
		col := tab.column(t, l.String())
		t.Run(l.String(), func(t *testing.T) {
			for _, row := range tab.rows {
				r, err := ParseRight(row[0])
				if err != nil {
					t.Fatal(err)
				}
				want := specGrade(t, r, cell(row, col))
				if got := LevelSet(l).Grade(r); got != want {
					t.Errorf("%s holds %s=%s, spec says %s", l, r, r.GradeName(got), cell(row, col))
				}
			}
		})
	}
}

// One test per level: every contact field of contact_fields.tsv.
func TestLevelFields_EveryFieldCell(t *testing.T) {
	tab := readTSV(t, "contact_fields.tsv")
	for l := Blocked; l <= Personal; l++ {
		col := tab.column(t, l.String())
		t.Run(l.String(), func(t *testing.T) {
			for _, row := range tab.rows {
				f, err := ParseField(row[0])
				if err != nil {
					t.Fatal(err)
				}
				want := cell(row, col) == "1"
				if got := VisibleFields(LevelSet(l)).Has(f); got != want {
					t.Errorf("viewer at %s sees %s = %v, spec says %v", l, f, got, want)
				}
			}
		})
	}
}

// specGrade reads a rights.tsv cell: 0/1 for a boolean right, a grade name
// for a graded one.
func specGrade(t *testing.T, r Right, c string) Grade {
	t.Helper()
	if r.Graded() {
		g, err := r.ParseGrade(c)
		if err != nil {
			t.Fatalf("spec cell %s=%q: %v", r, c, err)
		}
		return g
	}
	switch c {
	case "0":
		return 0
	case "1":
		return 1
	}
	t.Fatalf("spec cell %s=%q is neither 0 nor 1", r, c)
	return 0
}

// A higher level never shows less than a lower one: both tables are read so.
func TestLevels_AreOrdered(t *testing.T) {
	for l := Public; l <= Personal; l++ {
		if !LevelSet(l).Contains(LevelSet(l - 1)) {
			t.Errorf("%s does not contain %s", l, l-1)
		}
		if LevelFields(l)&LevelFields(l-1) != LevelFields(l-1) {
			t.Errorf("%s shows fewer fields than %s", l, l-1)
		}
		if LevelSet(l) == LevelSet(l-1) {
			t.Errorf("%s and %s give the same rights", l, l-1)
		}
	}
}

func TestParseNames_RejectUnknown(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"level special", func() error { _, err := ParseLevel("special"); return err }()},
		{"level typo", func() error { _, err := ParseLevel("Team"); return err }()},
		{"right", func() error { _, err := ParseRight("see_everything"); return err }()},
		{"field", func() error { _, err := ParseField("shoe_size"); return err }()},
		{"service", func() error { _, err := ParseService("fax"); return err }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("accepted an unknown name")
			}
			if _, ok := tc.err.(*UnknownNameError); !ok {
				t.Errorf("error %T %q, want *UnknownNameError", tc.err, tc.err)
			}
		})
	}
	for l := Blocked; l <= Personal; l++ {
		if got, err := ParseLevel(l.String()); err != nil || got != l {
			t.Errorf("ParseLevel(%q) = %v, %v", l, got, err)
		}
	}
	for _, r := range AllRights() {
		if got, err := ParseRight(r.Name()); err != nil || got != r {
			t.Errorf("ParseRight(%q) = %v, %v", r, got, err)
		}
	}
	for f := Field(0); f < NumFields; f++ {
		if got, err := ParseField(f.Name()); err != nil || got != f {
			t.Errorf("ParseField(%q) = %v, %v", f, got, err)
		}
	}
}
