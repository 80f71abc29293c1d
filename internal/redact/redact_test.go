package redact

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	for _, n := range []string{"password", "Passwd", "pwd", "pin", "PIN", "key", "device_code", "user_code", "card_id", "cardId", "short_id",
		"access_token", "refreshToken", "Refresh-Token", "id_token", "token", "refresh_tokens", "client_secret", "clientSecret",
		"private_key", "privateKey", "api_key", "apiKey", "X-Api-Key", "signature", "new_password", "authorization"} {
		if !Name(n) {
			t.Errorf("Name(%q) = false, want true", n)
		}
	}
	for _, n := range []string{"token_type", "tokenType", "pageToken", "nextPageToken", "expires_in", "user", "userid", "client_id",
		"grant_type", "name", "keys", "state"} {
		if Name(n) {
			t.Errorf("Name(%q) = true, want false", n)
		}
	}
}

func TestHeader(t *testing.T) {
	for _, n := range []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "X-Auth-Token",
		"HCP-Request-Signature", "X-Session-Id", "X-Client-Secret"} {
		if !Header(n) {
			t.Errorf("Header(%q) = false", n)
		}
	}
	for _, n := range []string{"Accept", "Content-Type", "Location", "Www-Authenticate-Not", "X-Request-Id"} {
		if Header(n) {
			t.Errorf("Header(%q) = true", n)
		}
	}
}

func TestHeaderValue(t *testing.T) {
	s := &Set{}
	cases := []struct{ name, in, want string }{
		{"Authorization", "Bearer tok-12345", "Bearer " + Mask},
		{"Authorization", "Basic dXNlcjpwdw==", "Basic " + Mask},
		{"X-Api-Key", "the-key-1", Mask},
		{"Cookie", "sid=abc; x=y", Mask},
		{"Location", "https://h/cb?refresh_token=rt-999999&page=2", "https://h/cb?refresh_token=" + Mask + "&page=2"},
		{"Accept", "application/json", "application/json"},
	}
	for _, c := range cases {
		if got := HeaderValue(c.name, c.in, s); got != c.want {
			t.Errorf("HeaderValue(%q, %q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
	if got := s.Scrub("tok-12345 the-key-1 rt-999999"); got != Mask+" "+Mask+" "+Mask {
		t.Errorf("masked header values not noted: %q", got)
	}
}

func TestQueryKeepsOrderAndMasksByName(t *testing.T) {
	s := &Set{}
	cases := []struct{ in, want string }{
		{"b=1&password=x%26yz-long&a=2", "b=1&password=" + Mask + "&a=2"},
		{"authtype=1&userid=CARD-0001", "authtype=1&userid=" + Mask},
		{"userid=alice&authtype=0", "userid=alice&authtype=0"},
		{"detailtype=0&detaildata=Dave+D&detailtype=3&detaildata=PIN-424242", "detailtype=0&detaildata=Dave+D&detailtype=3&detaildata=" + Mask},
		{"detaildata=lone", "detaildata=" + Mask},
		{"pageToken=p2&token_type=Bearer", "pageToken=p2&token_type=Bearer"},
		{"a=%zz", Mask},
		{"", ""},
	}
	for _, c := range cases {
		if got := Query(c.in, s); got != c.want {
			t.Errorf("Query(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := s.Scrub("x&yz-long CARD-0001 PIN-424242"); got != Mask+" "+Mask+" "+Mask {
		t.Errorf("masked values not noted: %q", got)
	}
}

func TestFormMasksInPlace(t *testing.T) {
	v := url.Values{"password": {"pw-123456"}, "user": {"bob"}, "authtype": {"2"}, "userid": {"1001"}}
	s := &Set{}
	Form(v, s)
	if v.Get("password") != Mask || v.Get("userid") != Mask || v.Get("user") != "bob" {
		t.Errorf("form %v", v)
	}
	// The short ID is masked where it stands; a number is never searched
	// for elsewhere (it would mask every 1001 of a report).
	if s.Scrub("pw-123456 1001") != Mask+" 1001" {
		t.Errorf("values not noted: %v", s.Values())
	}
}

func TestJSONAndAddFieldsIn(t *testing.T) {
	const doc = `{"token":{"access_token":"at-123456","token_type":"Bearer"},"list":[{"id_token":"it-123456"}],"refresh_tokens":["rt-123456"],"user":"alice"}`
	var v, w any
	_ = json.Unmarshal([]byte(doc), &v)
	_ = json.Unmarshal([]byte(doc), &w)
	s := &Set{}
	out, _ := json.Marshal(JSON(v, s))
	for _, sec := range []string{"at-123456", "it-123456", "rt-123456"} {
		if strings.Contains(string(out), sec) {
			t.Errorf("JSON left %q: %s", sec, out)
		}
	}
	if !strings.Contains(string(out), `"user":"alice"`) || !strings.Contains(string(out), `"token_type":"Bearer"`) {
		t.Errorf("JSON masked too much: %s", out)
	}
	s2 := &Set{}
	s2.AddFieldsIn(w)
	if got, _ := json.Marshal(w); string(got) == string(out) {
		t.Error("AddFieldsIn changed its input")
	}
	if len(s2.Values()) != 3 || len(s.Values()) != 3 {
		t.Errorf("noted %v and %v", s.Values(), s2.Values())
	}
}

func TestSetScrubsEveryFormLongestFirst(t *testing.T) {
	const secret = `pa ss/w<o>&r"d`
	s := &Set{}
	s.Add("abc") // too short
	s.Add("   x ")
	s.Add("pa ss/w<")
	s.Add("Bearer ")
	s.Add("1234567890")
	s.Add(secret)
	s.Add(secret) // once
	if vs := s.Values(); len(vs) != 2 || vs[0] != secret {
		t.Fatalf("values %q", vs)
	}
	j, _ := json.Marshal(secret)
	jq := string(j[1 : len(j)-1])
	for _, f := range []string{secret, jq, strings.ReplaceAll(jq, "/", `\/`), url.QueryEscape(secret), url.PathEscape(secret),
		strings.ToLower(url.QueryEscape(secret)), `pa ss\/w<o>&r\"d`} {
		if got := s.Scrub("<" + f + ">"); got != "<"+Mask+">" {
			t.Errorf("Scrub(%q) = %q", f, got)
		}
	}
	if got := s.Scrub("abc pa ss/w< Bearer 1234567890"); got != "abc "+Mask+" Bearer 1234567890" {
		t.Errorf("short values: %q", got)
	}
	var none *Set
	none.Add("whatever")
	if none.Scrub("whatever") != "whatever" || none.Values() != nil {
		t.Error("a nil Set must mask nothing")
	}
}

func TestURL(t *testing.T) {
	u, _ := url.Parse("https://u:pw-secret@h/cb?state=st&code=c&access_token=at-1#refresh_token=rt-1&x=1")
	s := &Set{}
	got := URL(u, s)
	if want := "https://h/cb?state=st&code=c&access_token=" + Mask + "#refresh_token=" + Mask + "&x=1"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if s.Scrub("pw-secret") != Mask {
		t.Error("the URL's password is not noted")
	}
}

// FuzzQuery: whatever the query, the value of a secret field never shows
// in the masked text, and a query without secrets comes back unchanged.
func FuzzQuery(f *testing.F) {
	for _, seed := range []string{"a=1&password=x", "authtype=1&userid=abcd", "detailtype=3&detaildata=1234", "k=%zz", "&&=&a"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		s := &Set{}
		out := Query(raw, s)
		v, err := url.ParseQuery(raw)
		if err != nil {
			if out != Mask && raw != "" {
				t.Fatalf("unparsable %q gave %q", raw, out)
			}
			return
		}
		secrets := 0
		for k, vs := range v {
			for i, val := range vs {
				if !secretField(v, k, i) {
					continue
				}
				secrets++
				if !strings.Contains(out, Mask) {
					t.Fatalf("secret %s=%q not masked in %q", k, val, out)
				}
			}
		}
		if secrets == 0 && out != raw {
			t.Fatalf("nothing secret but %q became %q", raw, out)
		}
	})
}

func TestMaskableAndVarName(t *testing.T) {
	for v, want := range map[string]bool{"alice": false, "Bearer": false, "  bearer  ": false, "3600": false, "12345678.5": false,
		"application/json": false, "wonderland": true, "tok-12345": true, "dGhpcyBpcyBh": true} {
		if Maskable(v) != want {
			t.Errorf("Maskable(%q) = %v, want %v", v, !want, want)
		}
	}
	for name, want := range map[string]bool{"QA_USER": false, "BASE_URL": false, "HOME": false, "token_type": false, "expires_in": false,
		"PARAGON_PASSWORD": true, "api_key": true, "DB_TOKEN": true, "client_secret": true, "SIGNING_KEY": true, "QA_PASS": true, "AWS_CREDENTIALS": true} {
		if VarName(name) != want {
			t.Errorf("VarName(%q) = %v, want %v", name, !want, want)
		}
	}
}
