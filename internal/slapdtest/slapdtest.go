// Package slapdtest runs a real OpenLDAP slapd (Debian packages slapd and
// ldap-utils, installed by `make test-deps`) for the tests of the LDAP
// sync: a cn=config made with slapadd in a temporary directory, an mdb
// database with the memberof overlay, plain LDAP and LDAPS listeners on
// free loopback ports (a test certificate from internal/testcert), and a
// generated tree of people and groups. It is stopped and removed when the
// test ends.
package slapdtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ucgrid/ucgrid/internal/testcert"
	"github.com/ucgrid/ucgrid/internal/testlog"
)

// Base is the suffix of the test directory.
const Base = "dc=example,dc=com"

// Server is a running slapd.
type Server struct {
	// URL is the plain listener (ldap://127.0.0.1:port), which also
	// offers StartTLS; LDAPSURL is the TLS one.
	URL, LDAPSURL string
	// AdminDN and AdminPassword bind as the database's root.
	AdminDN, AdminPassword string
	// CAFile is the PEM file of the certificate the server presents.
	CAFile string
	// Log is slapd's output.
	Log *testlog.Buffer
}

// Need returns slapd's path, or skips the test when it is not installed
// (fails instead with UCGRID_REQUIRE_PEERS set, as in `make test`).
func Need(t testing.TB) string {
	t.Helper()
	for _, bin := range []string{"/usr/sbin/slapd", "/usr/sbin/slapadd"} {
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("UCGRID_REQUIRE_PEERS") != "" {
				t.Fatal("slapd not installed (make test-deps installs it)")
			}
			t.Skip("slapd not installed: run make test-deps")
		}
	}
	return "/usr/sbin/slapd"
}

// Start runs slapd holding the entries of ldif (LDIF text below Base, the
// base entry included; Tree makes one) and returns it once it answers.
func Start(t testing.TB, ldif string) *Server {
	t.Helper()
	bin := Need(t)
	dir := t.TempDir()
	cert := testcert.New(t, 1, time.Now().Add(24*time.Hour))
	certFile, keyFile := cert.Write(t, dir)
	s := &Server{AdminDN: "cn=admin," + Base, AdminPassword: "admin-secret", CAFile: certFile, Log: &testlog.Buffer{}}
	confDir, dataDir := filepath.Join(dir, "slapd.d"), filepath.Join(dir, "data")
	for _, d := range []string{confDir, dataDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	config := configLDIF(dataDir, certFile, keyFile, s.AdminDN, s.AdminPassword)
	slapadd(t, dir, "config.ldif", config, "-n0", "-F", confDir)
	slapadd(t, dir, "data.ldif", ldif, "-n1", "-F", confDir)
	// The ports are free when drawn but may be taken (an outgoing
	// connection's source port, another test's listener) before slapd
	// binds them; slapd then exits, and the start is tried again on
	// other ports.
	for attempt := 1; ; attempt++ {
		exited := s.run(t, bin, confDir)
		err := s.waitReady(exited)
		if err == nil {
			return s
		}
		if _, early := err.(exitedEarly); !early || attempt == 5 {
			t.Fatalf("slapdtest: slapd did not answer at %s (attempt %d): %v\n%s", s.URL, attempt, err, s.Log)
		}
		t.Logf("slapdtest: slapd at %s exited before answering (%v); trying other ports", s.URL, err)
	}
}

// run starts slapd on two newly drawn ports; the channel is closed when
// it has exited.
func (s *Server) run(t testing.TB, bin, confDir string) <-chan struct{} {
	t.Helper()
	port, sport := drawPort(t), drawPort(t)
	s.URL, s.LDAPSURL = "ldap://127.0.0.1:"+strconv.Itoa(port), "ldaps://127.0.0.1:"+strconv.Itoa(sport)
	cmd := exec.Command(bin, "-d", "0", "-F", confDir, "-h", s.URL+"/ "+s.LDAPSURL+"/")
	cmd.Stdout, cmd.Stderr = s.Log, s.Log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // how it ended is in its log; a killed slapd is as good
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // fails only when it has exited already
		<-exited
	})
	return exited
}

// exitedEarly is waitReady's error when slapd ended before it answered.
type exitedEarly struct{}

func (exitedEarly) Error() string { return "slapd exited" }

func (s *Server) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
		if err == nil {
			c.SetTimeout(time.Second) // a listener that is not slapd's never answers
			err = c.Bind(s.AdminDN, s.AdminPassword)
			_ = c.Close() // a probe
			if err == nil {
				return nil
			}
		}
		select {
		case <-exited:
			return exitedEarly{}
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond) // polling for the server to listen, with a deadline
	}
}

// Admin returns a connection bound as the root DN, closed when the test
// ends: tests change the tree through it.
func (s *Server) Admin(t testing.TB) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() }) // the test is over
	if err := c.Bind(s.AdminDN, s.AdminPassword); err != nil {
		t.Fatal(err)
	}
	return c
}

func slapadd(t testing.TB, dir, name, ldif string, args ...string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(ldif), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/usr/sbin/slapadd", append(args, "-l", path)...).CombinedOutput()
	if err != nil {
		t.Fatalf("slapdtest: slapadd %s: %v\n%s", name, err, out)
	}
}

// drawPort is freePort; a test makes it hand out a taken port.
var drawPort = freePort

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close() //nolint:errcheck // only the port number was wanted
	return ln.Addr().(*net.TCPAddr).Port
}

func configLDIF(dataDir, certFile, keyFile, adminDN, adminPW string) string {
	return fmt.Sprintf(`dn: cn=config
objectClass: olcGlobal
cn: config
olcTLSCertificateFile: %[3]s
olcTLSCertificateKeyFile: %[4]s

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 1000

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: %[5]s
olcRootDN: %[1]s
olcRootPW: %[2]s
olcDbDirectory: %[6]s
olcDbMaxSize: 104857600
olcDbIndex: objectClass eq
olcAccess: {0}to * by * read

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfRefInt: TRUE
`, adminDN, adminPW, certFile, keyFile, Base, dataDir)
}

// Tree makes an LDIF of people people (uid person001…, in ou=people)
// and the groups of ou=groups: five departments (each person in one,
// which is also their primary group, named by businessCategory) and
// "staff", whose members are the department groups (nesting). Every
// person has mail, title and a telephoneNumber whose last three digits
// are 100 + their number.
func Tree(people int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n", Base)
	for _, ou := range []string{"people", "groups"} {
		fmt.Fprintf(&b, "dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n", ou, Base, ou)
	}
	members := map[string][]string{}
	for i := 1; i <= people; i++ {
		uid := PersonID(i)
		dept := Departments[i%len(Departments)]
		members[dept] = append(members[dept], PersonDN(i))
		fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: Person %d\nsn: %d\ndisplayName: Person %d\n"+
			"mail: %s@example.com\ntitle: Engineer\ntelephoneNumber: +49 89 1234-%d\nbusinessCategory: %s\n\n",
			PersonDN(i), uid, i, i, i, uid, 100+i, dept)
	}
	var depts []string
	for _, d := range Departments {
		depts = append(depts, GroupDN(d))
		fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\ncn: %s\nbusinessCategory: %s\n", GroupDN(d), d, d)
		for _, m := range members[d] {
			fmt.Fprintf(&b, "member: %s\n", m)
		}
		if len(members[d]) == 0 {
			fmt.Fprintf(&b, "member: %s\n", Base) // groupOfNames needs one
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\ncn: staff\n", GroupDN("staff"))
	for _, d := range depts {
		fmt.Fprintf(&b, "member: %s\n", d)
	}
	b.WriteString("\n")
	return b.String()
}

// Departments are the department groups of Tree; person i is in
// Departments[i%5].
var Departments = []string{"sales", "dev", "support", "ops", "finance"}

// PersonID is the uid of person i of Tree.
func PersonID(i int) string { return fmt.Sprintf("person%03d", i) }

// PersonDN is the DN of person i of Tree.
func PersonDN(i int) string { return "uid=" + PersonID(i) + ",ou=people," + Base }

// GroupDN is the DN of group cn of Tree.
func GroupDN(cn string) string { return "cn=" + cn + ",ou=groups," + Base }
