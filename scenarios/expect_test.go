package scenarios

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/internal/redact"
)

// stub answers every request with the same JSON document.
func stub(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(30 * time.Millisecond) // a real delay is what max_duration measures
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Count", "42")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"n": 3600, "f": 1.5, "s": "Bearer", "b": true, "z": null, "a": [1, {"k": "v"}], "o": {"x": "y"}}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestChecks(t *testing.T) {
	srv := stub(t)
	cases := []struct {
		name   string
		expect string
		fails  []string // "expectation|expected|actual" of each failure
	}{
		{"all hold", `
      status: [200, 201]
      headers:
        X-Count: "42"
        content-type: {matches: "json$"}
        X-Missing: {absent: true}
      json:
        n: 3600
        $.n: {equals: 3600.0, type: number, one_of: [1, 3600]}
        f: 1.5
        s: {equals: Bearer, length: 6, not_equals: Basic}
        b: true
        z: {type: null, present: true}
        $.a[1].k: v
        a: {type: array, length: 2}
        o: {type: object, length: 1}
        $: {type: object}
        nothing: {present: false}
      body: {matches: '"s": "Bearer"'}
      max_duration: 10s`, nil},
		{"status", `
      status: 200`, []string{"status 200|200|201"}},
		{"status set", `
      status: [200, 204]`, []string{"status in [200, 204]|200 or 204|201"}},
		{"equals number and string", `
      status: 201
      json:
        n: 3601
        s: bearer
        b: "true"`, []string{`json n equals|3601|3600`, `json s equals|"bearer"|"Bearer"`, `json b equals|"true"|true`}},
		{"not_equals", `
      status: 201
      json:
        s: {not_equals: Bearer}`, []string{`json s not_equals|not "Bearer"|"Bearer"`}},
		{"matches", `
      status: 201
      headers:
        X-Count: {matches: "^4$"}`, []string{`header X-Count matches|matching /^4$/|"42"`}},
		{"present and absent", `
      status: 201
      json:
        missing: {present: true}
        s: {absent: true}`, []string{`json missing present|present|absent`, `json s absent|absent|"Bearer"`}},
		{"checks on a missing value", `
      status: 201
      json:
        $.a[5]: 1`, []string{`json $.a[5] present|present|absent`}},
		{"type and length", `
      status: 201
      json:
        n: {type: string}
        a: {length: 3}`, []string{`json n type|string|number 3600`, `json a length|3|2 ([1,{"k":"v"}])`}},
		{"one_of", `
      status: 201
      json:
        s: {one_of: [Basic, Digest]}`, []string{`json s one_of|one of ["Basic", "Digest"]|"Bearer"`}},
		{"body", `
      status: 201
      body: {matches: "^nope"}`, []string{`body matches|matching /^nope/|`}},
		{"several nodes: any one satisfies the checks", `
      status: 201
      json:
        $.a[*]: 1
        $..k: {equals: v, type: string}
        $.a[?@.k == 'v']: {count: 1, type: object}
        $.nothing[*]: {absent: true, count: 0}`, nil},
		{"several nodes: none satisfies", `
      status: 201
      json:
        $.a[*]: {type: string, not_equals: 1}`, []string{`json $.a[*] type, not_equals|a node with type string and not_equals not 1|2 nodes, none matching: [1,{"k":"v"}]`}},
		{"count", `
      status: 201
      headers:
        X-Count: {count: 2}
      json:
        $.a[*]: {count: 3, equals: 1}
        $.n: {count: 0}`, []string{`header X-Count count|2|1`, `json $.a[*] count|3|2`, `json $.n count|0|1`}},
		{"comparisons hold", `
      status: 201
      headers:
        X-Count: {greater_than: 41, less_than: 43}
        Retry-After: {absent: true}
      json:
        n: {greater_than: 3599.5, less_than: 3601}
        $.n: {greater_than: 59m, less_than: 1h1s}
        f: {greater_than: 1, less_than: 2}
        $.a[*]: {greater_than: 0}`, nil},
		{"comparisons fail", `
      status: 201
      headers:
        X-Count: {greater_than: 42}
      json:
        n: {less_than: 1h}
        f: {less_than: 1.5}
        s: {greater_than: 1}
        o: {less_than: 2}`, []string{`header X-Count greater_than|greater than 42|"42"`, `json n less_than|less than 1h|3600`,
			`json f less_than|less than 1.5|1.5`, `json s greater_than|greater than 1|"Bearer" (not a number)`, `json o less_than|less than 2|{"x":"y"} (not a number)`}},
		{"contains and starts_with hold", `
      status: 201
      headers:
        Content-Type: {contains: json, starts_with: application/}
      json:
        s: {contains: eare, starts_with: Bea}
        a: {contains: 1}
        $.a: {contains: {k: v}}
        o: {contains: x}
        $.a[*]: {contains: k}
      body: {contains: '"b": true', starts_with: "{"}`, nil},
		{"contains and starts_with fail", `
      status: 201
      json:
        s: {contains: bear, starts_with: earer}
        a: {contains: 2}
        o: {contains: y}
        n: {contains: 3}`, []string{`json s contains|containing "bear"|"Bearer"`, `json s starts_with|starting with "earer"|"Bearer"`,
			`json a contains|an element equal to 2|[1,{"k":"v"}]`, `json o contains|the key "y"|{"x":"y"}`, `json n contains|containing 3|3600 (a number`}},
		{"schema holds", `
      status: 201
      json:
        $:
          schema: {type: object, required: [n, a], properties: {n: {type: integer, minimum: 3600}, a: {type: array, maxItems: 2}}}
        o: {schema: {type: object, additionalProperties: {type: string}}}
      body: {schema: {type: object}}`, nil},
		{"schema fails", `
      status: 201
      json:
        $: {schema: {type: object, required: [missing], properties: {n: {type: string}}}}`, []string{`json $ schema|valid against the inline schema|schema /properties/n: type: 3600 has type "integer", want "string"`}},
		{"default status is 2xx", ``, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "name: c\nsteps:\n  - http: {url: /thing}\n"
			if c.expect != "" {
				src += "    expect:" + c.expect + "\n"
			}
			list, err := Parse("c.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), list, RunOptions{Target: Target{BaseURL: srv.URL}})
			if err != nil {
				t.Fatal(err)
			}
			st := rep.Scenarios[0].Steps[0]
			var got []string
			for _, f := range st.Failures {
				got = append(got, f.Expectation+"|"+f.Expected+"|"+f.Actual)
			}
			if len(got) != len(c.fails) {
				t.Fatalf("failures:\n got  %q\n want %q", got, c.fails)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], c.fails[i]) {
					t.Errorf("failure %d:\n got  %s\n want %s", i, got[i], c.fails[i])
				}
			}
			if (len(c.fails) == 0) != (rep.Scenarios[0].Status == Passed) {
				t.Errorf("status %s", rep.Scenarios[0].Status)
			}
		})
	}
}

func TestMaxDurationAndCaptures(t *testing.T) {
	srv := stub(t)
	src := `name: d
steps:
  - http: {url: /slow}
    capture:
      token_type: $.s
      count: header X-Count
      code: status
      nested: $.a[1]
      bare: o.x
  - http: {url: "/thing?c=${count}&s=${token_type}&code=${code}&x=${bare}"}
    expect:
      body: {matches: "Bearer"}
      max_duration: 1ms
  - http: {url: /slow}
    expect:
      max_duration: 1ms
`
	list, err := Parse("d.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), list, RunOptions{Target: Target{BaseURL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	steps := rep.Scenarios[0].Steps
	if steps[0].Status != Passed {
		t.Fatalf("%s", describe(rep.Scenarios[0]))
	}
	if ex := steps[1].Exchange; ex == nil || !strings.Contains(ex.Request, "/thing?c=42&s=Bearer&code=201&x=y") {
		t.Errorf("captured values not used: %+v", ex)
	}
	// the fast request may or may not take 1ms on a loaded machine; the slow one cannot
	last := steps[len(steps)-1]
	if steps[1].Status == Passed && (last.Status != Failed || last.Failures[0].Expectation != "max_duration 1ms") {
		t.Errorf("%s", describe(rep.Scenarios[0]))
	}
}

func TestJSONPaths(t *testing.T) {
	for _, ok := range []string{"$", "", "$.a", "a", "a.b[0].c", "$.items[0][1]", "x-y.z", "$a.b", "[0]", "0.a", "$.a b",
		"a..b", "$.items[*].name", "$..id", "$.items[1:3]", "$.items[-1]", "$.items[?@.n > 1]", "$['a.b']"} {
		if _, err := compileJSONPath(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"a...b", "a[x]", "a.[0]x", "a]", "$.items[?", "$.a.", "$.items[?@.n ==]"} {
		if _, err := compileJSONPath(bad); err == nil {
			t.Errorf("%s accepted", bad)
		} else if !strings.Contains(err.Error(), "RFC 9535") {
			t.Errorf("%s: the message does not point at the syntax: %v", bad, err)
		}
	}
	// The paths the format took before RFC 9535 select what they did.
	doc := map[string]any{"a": map[string]any{"b": []any{map[string]any{"c": "abc"}}}, "x-y": map[string]any{"z": "xyz"},
		"0": map[string]any{"a": "zero"}, "a b": "space"}
	for p, want := range map[string]any{"a.b[0].c": "abc", "$.a.b[0].c": "abc", "x-y.z": "xyz", "$x-y.z": "xyz", "0.a": "zero", "$.a b": "space"} {
		c, err := compileJSONPath(p)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := c.first(doc); !ok || got != want {
			t.Errorf("%s: got %v, %v; want %v", p, got, ok, want)
		}
	}
	if c, _ := compileJSONPath("$"); c == nil || !c.singular {
		t.Error("$ is not a singular path")
	} else if got, ok := c.first(doc); !ok || got == nil {
		t.Error("$ is not the whole document")
	}
}

func TestEmbeddedTransport(t *testing.T) {
	src := `name: t
needs: [admin]
given:
  key: {allow_unauthenticated: true}
steps:
  - http: {method: HEAD, url: /api/v1/account}
    expect:
      body: {length: 0}
  - fault: {path: /api/v1/version, delay: 10ms}
  - call: GET /version
    expect:
      status: 200
  - fault: {path: /api/v1/version, drop: true}
  - call: GET /version
`
	list, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), list, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	steps := rep.Scenarios[0].Steps
	for _, st := range steps[:len(steps)-1] {
		if st.Status != Passed {
			t.Fatalf("%s", describe(rep.Scenarios[0]))
		}
	}
	if steps[3].Duration < 10*time.Millisecond {
		t.Errorf("the delayed call took %v", steps[3].Duration)
	}
	last := steps[len(steps)-1]
	if last.Status != Failed || !strings.Contains(last.Error, "closed the connection") || last.Exchange == nil || last.Exchange.Response != "" {
		t.Errorf("dropped request: %+v", last)
	}
}

// A secret that straddles the cut of a long body is masked, not half shown.
func TestLongBodyMaskedBeforeCut(t *testing.T) {
	secret := "s3cr3t-token-abcdefghijklmnop"
	r := newScenarioRun(&target{}, &Scenario{}, nil)
	r.mask.Add(secret)
	body := strings.Repeat("x", maxShownBody-10) + secret + strings.Repeat("y", 100)
	got := shownBody(r.mask, body)
	if strings.Contains(got, secret[:10]) {
		t.Errorf("part of the secret is shown: …%s", got[len(got)-60:])
	}
	if !strings.Contains(got, redact.Mask) || !strings.Contains(got, "more bytes") {
		t.Errorf("want the secret masked and the body cut: …%s", got[len(got)-60:])
	}
}

func TestCheckSynonymsSuggestTheCheck(t *testing.T) {
	got := problemsOf(t, "name: a\nsteps:\n  - call: GET /version\n    expect:\n      json:\n        x: {exists: true, gt: 1, includes: a}\n")
	for i, want := range []string{`did you mean "present: true"?`, `did you mean "greater_than"?`, `did you mean "contains"?`} {
		if i >= len(got) || !strings.HasSuffix(got[i], want) {
			t.Errorf("problem %d: want …%s, got %q", i, want, got)
		}
	}
}

// TestSchemaFile: a schema named by file is read relative to the scenario
// file, and a value it does not describe fails the step with the reason.
func TestSchemaFile(t *testing.T) {
	srv := stub(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "schemas"), 0o755); err != nil {
		t.Fatal(err)
	}
	schema := `{"type": "object", "required": ["n"], "properties": {"n": {"$ref": "defs.json#/$defs/small"}}}`
	defs := `{"$defs": {"small": {"type": "integer", "maximum": 10}}}`
	for name, text := range map[string]string{"schemas/answer.json": schema, "schemas/defs.json": defs,
		"s.yaml": "name: s\nsteps:\n  - http: {url: /thing}\n    expect:\n      json:\n        $: {schema: schemas/answer.json}\n        o: {schema: schemas/defs.json}\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list, err := LoadPaths([]string{filepath.Join(dir, "s.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), list, RunOptions{Target: Target{BaseURL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	fs := rep.Scenarios[0].Steps[0].Failures
	if len(fs) != 1 || fs[0].Expectation != "json $ schema" || fs[0].Expected != "valid against schemas/answer.json" ||
		!strings.Contains(fs[0].Actual, "schema /$defs/small") || !strings.Contains(fs[0].Actual, "maximum") {
		t.Errorf("failures %+v", fs)
	}
}

// TestCapturesKeepTheirTypes: a captured number, object or array compared
// with ${name} is compared as that value; a value that is exactly ${name} in
// a json body is sent with its type, and inside a longer string as text.
func TestCapturesKeepTheirTypes(t *testing.T) {
	doc := stub(t)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Redirect(w, r, doc.URL, http.StatusTemporaryRedirect)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, r.Body)
	}))
	t.Cleanup(echo.Close)
	src := `name: typed
steps:
  - http: {url: "` + doc.URL + `/thing"}
    capture:
      n: $.n
      o: $.o
      a: $.a
      code: status
      b: $.b
      z: $.z
      k: $.a[1]
  - http:
      method: POST
      url: /echo
      json: {n: "${n}", o: "${o}", a: "${a}", text: "n=${n} o=${o}", code: "${code}", b: "${b}", z: "${z}"}
    expect:
      json:
        n: {type: number, equals: 3600}
        $.n: {equals: "${n}", one_of: ["${o}", "${n}"], greater_than: "${code}"}
        o: {type: object, equals: "${o}"}
        a: {equals: "${a}", contains: "${k}", length: 2}
        text: 'n=3600 o={"x":"y"}'
        code: 201
        b: {type: boolean, equals: "${b}"}
        z: {type: "null"}
  - http: {url: "` + doc.URL + `/thing"}
    expect:
      json:
        s: "${n}"
        n: "${o}"
`
	list, err := Parse("typed.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), list, RunOptions{Target: Target{BaseURL: echo.URL}})
	if err != nil {
		t.Fatal(err)
	}
	steps := rep.Scenarios[0].Steps
	if len(steps) != 3 || steps[1].Status != Passed {
		t.Fatalf("typed comparisons: %s", describe(rep.Scenarios[0]))
	}
	var got []string
	for _, f := range steps[2].Failures {
		got = append(got, f.Expectation+"|"+f.Expected+"|"+f.Actual)
	}
	want := []string{`json s equals|3600|"Bearer"`, `json n equals|{"x":"y"}|3600`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("failures:\n got  %q\n want %q", got, want)
	}
}
