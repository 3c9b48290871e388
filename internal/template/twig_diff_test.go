package template

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The differential test renders generated templates and a corpus of
// realistic loyalty-platform templates through herald and through real
// Twig (PHP, Debian's php-twig), and compares the results. It needs php
// and Twig; without them it skips with the reason, unless
// HERALD_REQUIRE_PHP=1 (set by .ci/run), where it fails.

const (
	twigDiffSeed     = 20250512
	twigDiffGenCases = 7000
	// The targets: the share of generated cases equal to Twig (kept
	// differences excluded), and of the realistic corpus.
	twigDiffGenTarget    = 0.995
	twigDiffCorpusTarget = 1.0
)

var twigAutoload = "/usr/share/php/Twig/autoload.php"

// phpSkipReason is why the differential test cannot run here, or "".
var phpSkipReason string

func TestMain(m *testing.M) {
	if p := os.Getenv("TWIG_AUTOLOAD"); p != "" {
		twigAutoload = p
	}
	if _, err := exec.LookPath("php"); err != nil {
		phpSkipReason = "php is not installed (apt-get install php-cli php-twig php-mbstring)"
	} else if _, err := os.Stat(twigAutoload); err != nil {
		phpSkipReason = "Twig is not installed at " + twigAutoload + " (apt-get install php-twig)"
	}
	if phpSkipReason != "" && os.Getenv("HERALD_REQUIRE_PHP") != "1" {
		fmt.Println("SKIP: TestTwigDifferential: " + phpSkipReason)
	}
	os.Exit(m.Run())
}

// diffCase is one template with its context, rendered by both engines.
type diffCase struct {
	Name     string `json:"-"`
	Template string `json:"template"`
	Context  string `json:"context"`
	format   Format
	corpus   bool
}

type twigResult struct {
	Out string `json:"out"` // base64
	Err string `json:"err"`
}

// runTwig renders every case with Twig in one php process.
func runTwig(t *testing.T, cases []diffCase) []twigResult {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "cases.json")
	out := filepath.Join(dir, "results.json")
	data, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("php", "-d", "memory_limit=1G", "testdata/twig/render.php", in, out)
	cmd.Env = append(os.Environ(), "TWIG_AUTOLOAD="+twigAutoload)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("php render.php: %v\n%s", err, stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res []twigResult
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("results: %v", err)
	}
	if len(res) != len(cases) {
		t.Fatalf("php returned %d results for %d cases", len(res), len(cases))
	}
	return res
}

// verdict is the outcome of comparing one case.
type verdict struct {
	equal        bool
	kept         string // a kept difference (doc.go), when not equal
	class        string // the class of a difference
	herald, twig string
}

func heraldRender(c diffCase, format Format) (string, error) {
	tpl, err := Compile(c.Template, Options{Format: format})
	if err != nil {
		return "", err
	}
	vars, err := decodeContext(c.Context)
	if err != nil {
		return "", err
	}
	out, err := tpl.Render(vars)
	return string(out), err
}

func decodeContext(js string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

func compareCase(c diffCase, tr twigResult) verdict {
	twigOut, _ := base64.StdEncoding.DecodeString(tr.Out)
	tw := string(twigOut)
	plain, perr := heraldRender(c, PLAIN)
	v := verdict{herald: plain, twig: tw}
	if tr.Err != "" {
		v.twig = "ERROR " + tr.Err
	}
	if perr != nil {
		v.herald = "ERROR " + perr.Error()
	}
	switch {
	case tr.Err != "" && perr != nil:
		v.equal = true // both refuse
		return v
	case perr != nil:
		if strings.Contains(perr.Error(), "as a date") {
			v.kept = "date strings outside herald's formats are refused (PHP's parser reads almost any text)"
			return v
		}
		v.class = "herald refuses: " + errClass(perr.Error())
		return v
	case tr.Err != "":
		if k := keptTwigError(tr.Err); k != "" {
			v.kept = k
			return v
		}
		v.class = "twig errors: " + errClass(tr.Err)
		return v
	}
	if c.format == PLAIN || c.format == "" {
		if plain == tw {
			v.equal = true
			return v
		}
		v.kept = keptOutput(c, plain, tw)
		if v.kept == "" {
			v.class = outputClass(c.Template, plain, tw)
		}
		return v
	}
	// Structured formats: herald must render well-formed output in the
	// format, and mean what Twig means.
	formatted, ferr := heraldRender(c, c.format)
	if ferr != nil && strings.Contains(ferr.Error(), "is not valid") && !wellFormed(c.format, tw) {
		// Twig's output is malformed too: herald refuses to send it.
		v.kept = "a body that would be malformed is refused, not sent"
		v.herald = "ERROR " + ferr.Error()
		return v
	}
	if ferr != nil {
		v.herald = "ERROR " + ferr.Error()
		v.class = "herald " + string(c.format) + " refuses: " + errClass(ferr.Error())
		return v
	}
	v.herald = formatted
	if c.format == JSON {
		tj, terr := parseJSONDoc(tw)
		if terr == nil {
			hj, herr := parseJSONDoc(formatted)
			if herr == nil && reflect.DeepEqual(hj, tj) {
				v.equal = true
				return v
			}
			v.class = "JSON document differs: " + outputClass(c.Template, formatted, tw)
			return v
		}
	}
	if c.format == XML {
		if tx, err := xmlTokens(tw); err == nil {
			hx, err := xmlTokens(formatted)
			if err == nil && reflect.DeepEqual(hx, tx) {
				v.equal = true
				return v
			}
			v.class = "XML document differs: " + outputClass(c.Template, formatted, tw)
			return v
		}
	}
	// Twig's output is not a document (its values are not escaped for
	// where they stand, and this data has quotes, ampersands…): compare
	// the unescaped values, herald's PLAIN rendering, byte for byte.
	if plain == tw {
		v.equal = true
		return v
	}
	v.herald = plain
	v.class = "unescaped values differ: " + outputClass(c.Template, plain, tw)
	return v
}

func parseJSONDoc(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data")
	}
	return normalizeJSONNumbers(v), nil
}

// normalizeJSONNumbers compares numbers by value (1.0 and 1 are the same
// JSON number), keeping big integers exact.
func normalizeJSONNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return float64(i)
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case []any:
		for i := range x {
			x[i] = normalizeJSONNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalizeJSONNumbers(x[k])
		}
	}
	return v
}

func xmlTokens(s string) ([]string, error) {
	dec := xml.NewDecoder(strings.NewReader(s))
	var out []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(out) == 0 {
				return nil, fmt.Errorf("empty")
			}
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch x := tok.(type) {
		case xml.StartElement:
			attrs := make([]string, len(x.Attr))
			for i, a := range x.Attr {
				attrs[i] = a.Name.Local + "=" + a.Value
			}
			out = append(out, "<"+x.Name.Local+" "+strings.Join(attrs, " "))
		case xml.EndElement:
			out = append(out, "</"+x.Name.Local)
		case xml.CharData:
			out = append(out, "#"+string(x))
		}
	}
}

// keptTwigError recognizes a Twig error that herald deliberately does not
// raise.
func keptTwigError(msg string) string {
	switch {
	case reStringOperand.MatchString(msg) || strings.Contains(msg, "non-numeric value"):
		return "arithmetic on a non-numeric value counts it as 0 instead of failing"
	case strings.Contains(msg, "Array to string conversion"):
		return "arrays print as JSON"
	}
	return ""
}

var reDigit = regexp.MustCompile(`[0-9]`)

// keptOutput recognizes an output difference that is a kept difference:
// herald renders the case again printing arrays as PHP does and dates of
// null as now; if that is Twig's output (digits aside, for the clock), the
// difference is one of those two.
func keptOutput(c diffCase, herald, twig string) string {
	phpArrayStrings = true
	compat, err := heraldRender(c, PLAIN)
	phpArrayStrings = false
	if err == nil && compat == twig && strings.Contains(strings.ToLower(compat), "array") {
		return "arrays print as JSON"
	}
	if !utf8.ValidString(twig) && validUTF8PerByte(twig) == herald {
		return "invalid UTF-8 is written as U+FFFD"
	}
	if err == nil && compat != herald && reDigit.ReplaceAllString(compat, "0") == reDigit.ReplaceAllString(twig, "0") {
		return "date() of null or a missing value renders empty, not now"
	}
	return ""
}

var (
	reStringOperand = regexp.MustCompile(`Unsupported operand types: (string \S+ (string|int|float|bool|null)|(int|float|bool|null) \S+ string)\b`)
	reDigits        = regexp.MustCompile(`[0-9]+`)
	reNumber        = regexp.MustCompile(`-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?`)
	reFeat          = regexp.MustCompile(`\|\s*([a-z_0-9]+)|\b([a-z_]+)\(|\{%-?~?\s*([a-z]+)|\b(b-and|b-or|b-xor|matches|starts with|ends with|divisible by)\b|(\*\*|//|#\{)`)
)

// errClass turns an error message into a class: the message with quoted
// names kept and numbers dropped.
func errClass(msg string) string {
	msg = strings.TrimPrefix(msg, "Twig\\Error\\")
	if i := strings.Index(msg, ": "); i > 0 && strings.HasPrefix(msg, "line ") {
		msg = msg[i+2:]
	}
	if i := strings.Index(msg, " — "); i > 0 {
		msg = msg[:i]
	}
	msg = reDigits.ReplaceAllString(msg, "N")
	if len(msg) > 90 {
		msg = msg[:90]
	}
	return msg
}

// outputClass guesses the first differing feature of two outputs.
func outputClass(src, herald, twig string) string {
	strip := func(s string) string { return strings.ReplaceAll(s, "\n", "") }
	switch {
	case strip(herald) == strip(twig):
		return "newline after a tag"
	case strings.Join(strings.Fields(herald), "") == strings.Join(strings.Fields(twig), ""):
		return "whitespace"
	case reNumber.ReplaceAllString(herald, "N") == reNumber.ReplaceAllString(twig, "N"):
		return "number printing"
	}
	feats := map[string]bool{}
	for _, m := range reFeat.FindAllStringSubmatch(src, -1) {
		for _, g := range m[1:] {
			if g != "" {
				feats[g] = true
			}
		}
	}
	// Ordinary features are common to many templates; report the rarest.
	common := map[string]bool{"if": true, "for": true, "set": true, "endif": true, "endfor": true, "else": true, "elseif": true, "join": true, "raw": true, "e": true}
	var names []string
	for f := range feats {
		if !common[f] {
			names = append(names, f)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "other"
	}
	return strings.Join(names, ",")
}

func TestTwigDifferential(t *testing.T) {
	if phpSkipReason != "" {
		if os.Getenv("HERALD_REQUIRE_PHP") == "1" {
			t.Fatalf("HERALD_REQUIRE_PHP=1 but %s", phpSkipReason)
		}
		t.Skip(phpSkipReason)
	}
	var cases []diffCase
	ctxs := diffContexts()
	for i, src := range genCases(twigDiffSeed, twigDiffGenCases) {
		cases = append(cases, diffCase{Name: fmt.Sprintf("gen-%04d", i), Template: src, Context: ctxs[i%len(ctxs)], format: PLAIN})
	}
	corpus := loadCorpus(t)
	for _, c := range corpus {
		cases = append(cases, c)
	}
	start := time.Now()
	results := runTwig(t, cases)
	t.Logf("php rendered %d cases in %v", len(cases), time.Since(start).Round(time.Millisecond))

	type tally struct{ total, equal, kept int }
	var gen, cor tally
	keptCount := map[string]int{}
	keptExample := map[string]string{}
	classes := map[string][]string{}
	for i, c := range cases {
		v := compareCase(c, results[i])
		tl := &gen
		if c.corpus {
			tl = &cor
		}
		tl.total++
		switch {
		case v.equal:
			tl.equal++
		case v.kept != "":
			tl.kept++
			keptCount[v.kept]++
			if _, ok := keptExample[v.kept]; !ok {
				keptExample[v.kept] = fmt.Sprintf("%s %q\n      herald: %q\n      twig:   %q", c.Name, c.Template, clip(v.herald), clip(v.twig))
			}
		default:
			key := v.class
			if c.corpus {
				key = "[corpus] " + key
			}
			classes[key] = append(classes[key], fmt.Sprintf("%s %q\n      herald: %q\n      twig:   %q", c.Name, c.Template, clip(v.herald), clip(v.twig)))
		}
	}
	rate := func(tl tally) float64 {
		if tl.total-tl.kept == 0 {
			return 1
		}
		return float64(tl.equal) / float64(tl.total-tl.kept)
	}
	var report strings.Builder
	fmt.Fprintf(&report, "generated: %d/%d equal to Twig (%.2f%%), %d kept differences excluded\n", gen.equal, gen.total-gen.kept, 100*rate(gen), gen.kept)
	fmt.Fprintf(&report, "realistic: %d/%d equal to Twig (%.2f%%), %d kept differences excluded\n", cor.equal, cor.total-cor.kept, 100*rate(cor), cor.kept)
	for k, n := range keptCount {
		fmt.Fprintf(&report, "  kept: %s: %d\n        %s\n", k, n, keptExample[k])
	}
	keys := make([]string, 0, len(classes))
	for k := range classes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(classes[keys[i]]) != len(classes[keys[j]]) {
			return len(classes[keys[i]]) > len(classes[keys[j]])
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		ex := classes[k]
		fmt.Fprintf(&report, "  %4d  %s\n", len(ex), k)
		for _, e := range ex[:min(2, len(ex))] {
			fmt.Fprintf(&report, "        %s\n", e)
		}
	}
	if os.Getenv("TWIG_DIFF_REPORT") != "" {
		_ = os.WriteFile(os.Getenv("TWIG_DIFF_REPORT"), []byte(report.String()), 0o644)
	}
	// The rates are printed even without -v; the classified list is in
	// the test log (shown with -v or on failure).
	summary := report.String()
	if i := strings.Index(summary, "\n  "); i > 0 {
		summary = summary[:i+1]
	}
	fmt.Print("TestTwigDifferential: " + strings.ReplaceAll(strings.TrimSuffix(summary, "\n"), "\n", "\nTestTwigDifferential: ") + "\n")
	t.Log("\n" + report.String())
	if gen.total-gen.kept < 5000 || len(corpus) < 2*60 {
		t.Errorf("too few cases: %d generated compared, %d realistic (want at least 5000 and 120)", gen.total-gen.kept, len(corpus))
	}
	if r := rate(gen); r < twigDiffGenTarget {
		t.Errorf("generated templates: %.2f%% equal to Twig, want at least %.2f%%", 100*r, 100*twigDiffGenTarget)
	}
	if r := rate(cor); r < twigDiffCorpusTarget {
		t.Errorf("realistic templates: %.2f%% equal to Twig, want %.2f%%", 100*r, 100*twigDiffCorpusTarget)
	}
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// loadCorpus reads testdata/twig/corpus.txt and pairs every template with
// the normal and the edge context.
func loadCorpus(t *testing.T) []diffCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/twig/contexts.json")
	if err != nil {
		t.Fatal(err)
	}
	// Objects are written with sorted keys: herald's data are Go maps,
	// which iterate in key order (a kept difference), and Twig iterates
	// in the order of the text.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var parsed map[string]any
	if err := dec.Decode(&parsed); err != nil {
		t.Fatal(err)
	}
	ctxs := map[string]string{}
	for k, v := range parsed {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		ctxs[k] = string(b)
	}
	text, err := os.ReadFile("testdata/twig/corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []diffCase
	var name string
	var format Format
	var body []string
	flush := func() {
		if name == "" {
			return
		}
		src := strings.Join(body, "\n")
		for _, ctx := range []string{"normal", "edge"} {
			out = append(out, diffCase{Name: name + "/" + ctx, Template: src, Context: string(ctxs[ctx]), format: format, corpus: true})
		}
	}
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, "=== ") {
			flush()
			f := strings.Fields(line)
			if len(f) != 3 {
				t.Fatalf("corpus: bad header %q", line)
			}
			name, format, body = f[1], Format(f[2]), nil
			continue
		}
		if name == "" {
			continue // the header comment
		}
		body = append(body, line)
	}
	if len(body) > 0 && body[len(body)-1] == "" {
		body = body[:len(body)-1]
	}
	flush()
	return out
}

// validUTF8PerByte replaces each invalid byte with U+FFFD, as herald does.
func validUTF8PerByte(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			b.WriteString("\uFFFD")
			i++
			continue
		}
		b.WriteString(s[i : i+n])
		i += n
	}
	return b.String()
}

// wellFormed reports whether s is a document of the format.
func wellFormed(f Format, s string) bool {
	switch f {
	case JSON:
		_, err := parseJSONDoc(s)
		return err == nil
	case XML:
		_, err := xmlTokens(s)
		return err == nil
	}
	return true
}
