package officehours

import (
	"flag"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("seed", 0, "seed for the randomized tests (0: from the clock)")

// testSeed returns the seed to use and logs it so a failure can be replayed
// with -seed.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	return seed
}

// refVerdict is the obviously correct reading of a schedule: look at the wall
// clock at t and check every rule by linear search.
func refVerdict(s Schedule, loc *time.Location, o Override, t time.Time) (bool, Reason) {
	if o.Mode != ModeAuto && (o.Until.IsZero() || t.Before(o.Until)) {
		return o.Mode == ModeOpen, ReasonOverride
	}
	lt := t.In(loc)
	for _, h := range s.Holidays {
		if (h.Date.Year == 0 || h.Date.Year == lt.Year()) && h.Date.Month == lt.Month() && h.Date.Day == lt.Day() {
			return false, ReasonHoliday
		}
	}
	m := Clock(lt.Hour()*60 + lt.Minute())
	in := func(ivs []Interval) bool {
		return slices.ContainsFunc(ivs, func(iv Interval) bool { return iv.Start <= m && m < iv.End })
	}
	noHours := true
	for _, day := range s.Weekly {
		noHours = noHours && len(day) == 0
	}
	inHours := noHours || in(s.Weekly[lt.Weekday()])
	switch {
	case inHours && in(s.Breaks[lt.Weekday()]):
		return false, ReasonBreak
	case noHours:
		return true, ReasonNoHours
	default:
		return inHours, ReasonSchedule
	}
}

// refNext walks minute by minute from now and returns the first minute at
// which the reference verdict differs, or zero within the horizon.
func refNext(s Schedule, loc *time.Location, o Override, now time.Time, open bool, horizon time.Duration) time.Time {
	for t := now.Truncate(time.Minute).Add(time.Minute); t.Sub(now) <= horizon; t = t.Add(time.Minute) {
		if o, _ := refVerdict(s, loc, o, t); o != open {
			return t
		}
	}
	return time.Time{}
}

var quickZones = []string{"", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "America/Santiago", "Pacific/Chatham"}

// The verdict and its next change agree with the minute-by-minute reference
// on random schedules in zones with DST (some moving the clock by half an
// hour), mostly near their transitions.
func TestVerdict_MatchesMinuteByMinuteReference(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	const rounds, horizon = 400, 3 * 24 * time.Hour
	for round := range rounds {
		s := randomSchedule(rng)
		loc, err := loadZone(s.TimeZone)
		if err != nil {
			t.Fatal(err)
		}
		now := randomInstant(rng, loc)
		o := randomOverride(rng, now)
		got := Verdict(s, o, now)
		open, reason := refVerdict(s, loc, o, now)
		want := refNext(s, loc, o, now, open, horizon)
		gotNext := got.Next
		if !gotNext.IsZero() && gotNext.Sub(now) > horizon {
			gotNext = time.Time{}
		}
		if got.Open != open || got.Reason != reason || !gotNext.Equal(want) {
			t.Fatalf("seed %d round %d at %s (%s), override %+v:\ngot  open=%v reason=%s next=%s\nwant open=%v reason=%s next=%s\nschedule %+v",
				seed, round, now.In(loc), now.UTC(), o, got.Open, got.Reason, gotNext, open, reason, want, s)
		}
	}
}

func randomSchedule(rng *rand.Rand) Schedule {
	s := Schedule{TimeZone: quickZones[rng.IntN(len(quickZones))]}
	if rng.IntN(5) > 0 {
		for d := range s.Weekly {
			s.Weekly[d] = randomDay(rng, rng.IntN(4))
		}
	}
	for range rng.IntN(3) {
		s.Breaks[rng.IntN(7)] = randomDay(rng, 1)
	}
	return s
}

// randomDay returns n non-overlapping intervals in random order, with cuts
// on a grid that often falls in the small hours where clocks change.
func randomDay(rng *rand.Rand, n int) []Interval {
	cuts := map[Clock]bool{}
	for len(cuts) < 2*n {
		c := Clock(rng.IntN(MinutesPerDay/15+1) * 15)
		if rng.IntN(2) == 0 {
			c = Clock(60 + rng.IntN(180)) // 01:00–04:00
		}
		cuts[c] = true
	}
	sorted := make([]Clock, 0, len(cuts))
	for c := range cuts {
		sorted = append(sorted, c)
	}
	slices.Sort(sorted)
	day := make([]Interval, 0, n)
	for i := 0; i+1 < len(sorted); i += 2 {
		day = append(day, Span(sorted[i], sorted[i+1]))
	}
	rng.Shuffle(len(day), func(i, j int) { day[i], day[j] = day[j], day[i] })
	return day
}

// randomInstant picks an instant in 2026–2027, half the time within a day
// of one of the zone's clock changes.
func randomInstant(rng *rand.Rand, loc *time.Location) time.Time {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t := start.Add(time.Duration(rng.Int64N(int64(2 * 365 * 24 * time.Hour))))
	if rng.IntN(2) == 0 {
		if _, end := t.In(loc).ZoneBounds(); !end.IsZero() {
			t = end.Add(time.Duration(rng.Int64N(int64(48*time.Hour))) - 24*time.Hour)
		}
	}
	return t.Add(time.Duration(rng.IntN(60)) * time.Second)
}

// randomOverride is auto most of the time, else open or closed with an
// expiry within a day either side of now, or none.
func randomOverride(rng *rand.Rand, now time.Time) Override {
	if rng.IntN(3) > 0 {
		return Override{}
	}
	o := Override{Mode: Mode(1 + rng.IntN(2))}
	if rng.IntN(3) > 0 {
		o.Until = now.Add(time.Duration(rng.IntN(48*60)-24*60) * time.Minute).Truncate(time.Minute)
	}
	return o
}

// Holidays are whole local days: random schedules with holidays near now
// against the reference.
func TestVerdict_HolidaysMatchReference(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	const rounds, horizon = 200, 4 * 24 * time.Hour
	for round := range rounds {
		s := randomSchedule(rng)
		loc, err := loadZone(s.TimeZone)
		if err != nil {
			t.Fatal(err)
		}
		now := randomInstant(rng, loc)
		s.Holidays = randomHolidays(rng, now.In(loc))
		got := Verdict(s, Override{}, now)
		open, reason := refVerdict(s, loc, Override{}, now)
		want := refNext(s, loc, Override{}, now, open, horizon)
		gotNext := got.Next
		if !gotNext.IsZero() && gotNext.Sub(now) > horizon {
			gotNext = time.Time{}
		}
		if got.Open != open || got.Reason != reason || !gotNext.Equal(want) {
			t.Fatalf("seed %d round %d at %s: got open=%v reason=%s next=%s, want open=%v reason=%s next=%s\nschedule %+v",
				seed, round, now.In(loc), got.Open, got.Reason, gotNext, open, reason, want, s)
		}
	}
}

// randomHolidays returns up to four distinct holidays within three days of
// local, some of them yearly.
func randomHolidays(rng *rand.Rand, local time.Time) []Holiday {
	var hs []Holiday
	seen := map[Date]bool{}
	for range rng.IntN(5) {
		d := local.AddDate(0, 0, rng.IntN(7)-3)
		date := Date{d.Year(), d.Month(), d.Day()}
		if rng.IntN(3) == 0 {
			date.Year = 0
		}
		if !seen[date] {
			seen[date] = true
			hs = append(hs, Holiday{Date: date, Name: "h"})
		}
	}
	return hs
}
