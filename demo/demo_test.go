package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/api"
	"github.com/ucgrid/ucgrid/api/password"
	"github.com/ucgrid/ucgrid/api/tokens"
	"github.com/ucgrid/ucgrid/internal/testdir"
	"github.com/ucgrid/ucgrid/internal/testlog"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// cheapParams make argon2id fast in tests.
var cheapParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// filled is a directory with a system owner "admin", filled by Fill
// through a real API handler served on 127.0.0.1.
type filled struct {
	t   *testing.T
	srv *httptest.Server
	res *Result
}

func fill(t *testing.T) *filled {
	t.Helper()
	log := testlog.New(t, slog.LevelWarn)
	dir := testdir.Open(t, persistence.Config{NodeID: "n1", ClusterID: "demo-test", Logger: log})
	hash, err := password.Hash("admin password", cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := dir.Apply(ctx, &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{
		Id: "admin", DisplayName: "Administrator", PasswordHash: hash, SystemRole: "system_owner"}}}}); err != nil {
		t.Fatal(err)
	}
	h, err := api.NewHandler(api.HandlerConfig{Directory: dir, Passwords: cheapParams, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	toks, err := tokens.New(tokens.Config{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Fill(ctx, Config{API: h, Tokens: toks})
	if err != nil {
		t.Fatalf("Fill: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &filled{t: t, srv: srv, res: res}
}

// call sends a request as user (Basic with pw) and decodes a JSON answer
// into out (when not nil); it returns the status.
func (f *filled) call(method, path, user, pw string, out any) int {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.SetBasicAuth(user, pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		f.t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			f.t.Fatalf("%s %s: %v in %s", method, path, err, buf.String())
		}
	}
	return resp.StatusCode
}

func (f *filled) signIn(user string) SignIn {
	f.t.Helper()
	for _, s := range f.res.SignIns {
		if s.User == user {
			return s
		}
	}
	f.t.Fatalf("no printed credentials for %s", user)
	return SignIn{}
}

func TestFill_ThreePeopleSignInWithThePrintedPasswords(t *testing.T) {
	f := fill(t)
	if got := len(f.res.SignIns); got != 3 {
		t.Fatalf("%d sign-ins, want 3", got)
	}
	for _, s := range f.res.SignIns {
		if len(s.Password) < password.MinLength || len(s.SIPPassword) < 8 || s.Line == "" {
			t.Errorf("%s: weak or missing credentials %+v", s.User, s)
		}
		if code := f.call("POST", "/v1/tokens", s.User, s.Password, nil); code != http.StatusCreated {
			t.Errorf("POST /v1/tokens as %s = %d, want 201", s.User, code)
		}
		if code := f.call("POST", "/v1/tokens", s.User, s.Password+"x", nil); code != http.StatusUnauthorized {
			t.Errorf("POST /v1/tokens as %s with a wrong password = %d, want 401", s.User, code)
		}
		var line struct {
			Owner          string `json:"owner"`
			HasSIPPassword bool   `json:"has_sip_password"`
		}
		if code := f.call("GET", "/v1/lines/"+s.Line, "admin", "admin password", &line); code != http.StatusOK || line.Owner != s.User || !line.HasSIPPassword {
			t.Errorf("line %s = %d %+v, want owned by %s with a SIP password", s.Line, code, line, s.User)
		}
	}
	// Nobody else can sign in: they have no password yet.
	var user struct {
		SystemRole string `json:"system_role"`
	}
	admin := f.signIn(Administrator)
	if code := f.call("GET", "/v1/users/"+Administrator, admin.User, admin.Password, &user); code != http.StatusOK || user.SystemRole != "system_admin" {
		t.Errorf("administrator = %d %+v, want system_admin", code, user)
	}
}

func TestFill_PlainUserSeesWhatTheGrantsSay(t *testing.T) {
	f := fill(t)
	u := f.signIn(PlainUser)
	var card struct {
		Level  string         `json:"level"`
		Fields map[string]any `json:"fields"`
	}
	if code := f.call("GET", "/v1/users/"+PersonalFriend+"/card", u.User, u.Password, &card); code != http.StatusOK {
		t.Fatalf("card of %s = %d", PersonalFriend, code)
	}
	if card.Level != "personal" || card.Fields["private_phone"] == nil {
		t.Errorf("card of the friend who granted personal = %+v, want level personal with private_phone", card)
	}
	card.Fields = nil
	if code := f.call("GET", "/v1/users/"+BlockedBy+"/card", u.User, u.Password, &card); code != http.StatusOK {
		t.Fatalf("card of %s = %d", BlockedBy, code)
	}
	if card.Level != "blocked" || card.Fields["work_phone"] != nil || card.Fields["email"] == nil {
		t.Errorf("card of the colleague who blocked = %+v, want level blocked: name and e-mail only", card)
	}
	for target, want := range map[string]bool{BlockedBy: false, PersonalFriend: true, "chloe.martin": true} {
		var ex struct {
			Rights map[string]any `json:"rights"`
		}
		if code := f.call("GET", "/v1/rights/"+u.User+"/"+target, u.User, u.Password, &ex); code != http.StatusOK {
			t.Fatalf("explain %s = %d", target, code)
		}
		if got := ex.Rights["see_presence"] == true; got != want {
			t.Errorf("%s sees the presence of %s: %v, want %v", u.User, target, got, want)
		}
	}
	// A plain user has no admin view of a colleague.
	if code := f.call("GET", "/v1/users/chloe.martin", u.User, u.Password, nil); code != http.StatusForbidden && code != http.StatusNotFound {
		t.Errorf("plain user GET of a colleague's admin view = %d, want refused", code)
	}
}

func TestFill_CallGroupsHaveOfficeHoursAndAReceptionist(t *testing.T) {
	f := fill(t)
	m := f.signIn(Manager)
	type group struct {
		Members  []struct{ User, Role string } `json:"members"`
		Leader   string                        `json:"leader"`
		Deputy   string                        `json:"deputy"`
		Timezone string                        `json:"timezone"`
		Office   json.RawMessage               `json:"office_hours"`
		Call     struct {
			Mode, Number, Strategy string
		} `json:"call_group"`
	}
	for id, want := range map[string]struct{ number, strategy string }{
		"reception": {ReceptionNumber, "ring_all"}, "support": {SupportNumber, "sequential"},
	} {
		var g group
		if code := f.call("GET", "/v1/groups/"+id, "admin", "admin password", &g); code != http.StatusOK {
			t.Fatalf("group %s = %d", id, code)
		}
		if g.Call.Mode != "sip" || g.Call.Number != want.number || g.Call.Strategy != want.strategy {
			t.Errorf("group %s call group = %+v, want %s %s", id, g.Call, want.number, want.strategy)
		}
		if g.Timezone != TimeZone || !strings.Contains(string(g.Office), `"mon"`) || !strings.Contains(string(g.Office), "holidays") {
			t.Errorf("group %s: timezone %q office hours %s, want weekly hours and holidays in %s", id, g.Timezone, g.Office, TimeZone)
		}
	}
	var rec group
	f.call("GET", "/v1/groups/reception", "admin", "admin password", &rec)
	found := false
	for _, mem := range rec.Members {
		found = found || (mem.User == Receptionist && mem.Role == "receptionist")
	}
	if !found {
		t.Errorf("reception members %+v lack %s as receptionist", rec.Members, Receptionist)
	}
	var sales group
	if code := f.call("GET", "/v1/groups/sales", m.User, m.Password, &sales); code != http.StatusOK || sales.Leader != Manager || sales.Deputy == "" {
		t.Errorf("sales as its manager = %d leader %q deputy %q", code, sales.Leader, sales.Deputy)
	}
	// IT's deputy stands in for the holidays: the role ends by itself.
	var it struct {
		Deputy      string     `json:"deputy"`
		DeputyUntil *time.Time `json:"deputy_until"`
	}
	f.call("GET", "/v1/groups/it", "admin", "admin password", &it)
	if left := time.Until(derefTime(it.DeputyUntil)); it.Deputy == "" || left < DeputyFor-2*time.Hour || left > DeputyFor {
		t.Errorf("IT deputy %q until %v: want one that ends in about %v", it.Deputy, it.DeputyUntil, DeputyFor)
	}
	// The manager administers his department: he sees a member's admin view.
	if code := f.call("GET", "/v1/users/"+PlainUser, m.User, m.Password, nil); code != http.StatusOK {
		t.Errorf("manager GET of a member = %d, want 200", code)
	}
}

func TestFill_TablesAreConsistent(t *testing.T) {
	ids := map[string]bool{}
	depts := map[string]bool{}
	for _, d := range departments {
		depts[d.id] = true
	}
	for _, p := range people {
		if ids[p.id] {
			t.Errorf("person %s twice", p.id)
		}
		ids[p.id] = true
		if !depts[p.dept] {
			t.Errorf("%s: no department %q", p.id, p.dept)
		}
	}
	for _, d := range departments {
		if !ids[d.leader] || (d.deputy != "" && !ids[d.deputy]) {
			t.Errorf("department %s: leader %q or deputy %q is nobody", d.id, d.leader, d.deputy)
		}
	}
	for _, id := range []string{Administrator, Manager, PlainUser, PersonalFriend, BlockedBy, Receptionist} {
		if !ids[id] {
			t.Errorf("%s is nobody", id)
		}
	}
	if n := len(people); n < 25 || n > 40 {
		t.Errorf("%d people, want 25–40", n)
	}
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
