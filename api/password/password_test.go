package password

import (
	"strings"
	"testing"
)

// cheap keeps the tests fast; the format and checks are the same.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHash_VerifiesOnlyTheRightPassword(t *testing.T) {
	h, err := Hash("correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("not a PHC argon2id string: %q", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Error("hash contains the password")
	}
	for pw, want := range map[string]bool{"correct horse": true, "correct hors": false, "Correct horse": false, "": false} {
		ok, err := Verify(h, pw)
		if err != nil || ok != want {
			t.Errorf("Verify(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	h2, _ := Hash("correct horse", cheap)
	if h2 == h {
		t.Error("two hashes of one password are equal: salt missing")
	}
}

func TestHash_RejectsShortPassword(t *testing.T) {
	if _, err := Hash("short", cheap); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Errorf("err = %v", err)
	}
}

func TestVerify_MalformedHashes(t *testing.T) {
	for _, h := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=18$m=64,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=x$c2FsdA$a2V5", "$argon2id$v=19$m=64,t=1,p=1$!!$a2V5", "$argon2id$v=19$m=64,t=0,p=1$c2FsdA$a2V5"} {
		if ok, err := Verify(h, "whatever1"); ok || err != ErrMalformed {
			t.Errorf("Verify(%q) = %v, %v", h, ok, err)
		}
	}
}

func TestGenerate_LengthAndAlphabet(t *testing.T) {
	pw, err := Generate(20)
	if err != nil || len(pw) != 20 || strings.ContainsAny(pw, "0O1lI") {
		t.Errorf("Generate = %q, %v", pw, err)
	}
}

func BenchmarkHash_Default(b *testing.B) {
	for b.Loop() {
		if _, err := Hash("correct horse", Default); err != nil {
			b.Fatal(err)
		}
	}
}
