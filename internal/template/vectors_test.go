package template

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func init() { panicSafety = false }

// vector is one case from the shared spec (copied into testdata/vectors).
type vector struct {
	Name        string         `json:"name"`
	PayloadType string         `json:"payload_type"`
	Template    string         `json:"template"`
	Context     map[string]any `json:"context"`
	Expected    string         `json:"expected"`
	Compare     string         `json:"compare"`
}

func loadVectors(t testing.TB) map[string]vector {
	t.Helper()
	files, err := filepath.Glob("testdata/vectors/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors found: %v", err)
	}
	out := map[string]vector{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v vector
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = v
	}
	return out
}

func TestVectors(t *testing.T) {
	t.Parallel()
	vectors := loadVectors(t)
	if len(vectors) != 10 {
		t.Errorf("found %d vectors, want 10", len(vectors))
	}
	for file, v := range vectors {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			tpl, err := Compile(v.Template, Options{Format: Format(v.PayloadType)})
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := tpl.Render(v.Context)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			switch v.Compare {
			case "bytes":
				if string(got) != v.Expected {
					t.Errorf("got\n%s\nwant\n%s", got, v.Expected)
				}
			case "xml":
				g, err := xmlTree(got)
				if err != nil {
					t.Fatalf("rendered XML: %v\n%s", err, got)
				}
				w, err := xmlTree([]byte(v.Expected))
				if err != nil {
					t.Fatalf("expected XML: %v", err)
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("got\n%s\nwant\n%s", got, v.Expected)
				}
			default:
				t.Fatalf("unknown compare %q", v.Compare)
			}
			// Check with the vector's context as the sample: no error.
			if _, err := Check(v.Template, Options{Format: Format(v.PayloadType)}, v.Context); err != nil {
				t.Errorf("Check: %v", err)
			}
		})
	}
}

// xmlNode is an element with its attributes, text and children, for
// comparing documents regardless of entity spelling.
type xmlNode struct {
	Name     string
	Attrs    map[string]string
	Text     string
	Children []*xmlNode
}

func xmlTree(doc []byte) (*xmlNode, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	root := &xmlNode{Name: "#document"}
	stack := []*xmlNode{root}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		top := stack[len(stack)-1]
		switch x := tok.(type) {
		case xml.StartElement:
			n := &xmlNode{Name: x.Name.Local, Attrs: map[string]string{}}
			for _, a := range x.Attr {
				n.Attrs[a.Name.Local] = a.Value
			}
			top.Children = append(top.Children, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.Text += string(x)
		}
	}
	var trim func(n *xmlNode)
	trim = func(n *xmlNode) {
		if len(n.Children) > 0 {
			n.Text = strings.TrimSpace(n.Text)
		}
		for _, c := range n.Children {
			trim(c)
		}
	}
	trim(root)
	return root, nil
}

// TestSpecInlineTemplate is the TRIFFT → Bloomreach example quoted at the
// top of templates.md; it must work unchanged.
func TestSpecInlineTemplate(t *testing.T) {
	t.Parallel()
	src := `{"event_type": "trft_perk_redeemed", "properties": {"perk_id": "{{ coupon.id }}", "perk_name": "{{ coupon.name }}", "venue_id": "{{ venue.id }}", "venue_name": "{{ venue.name }}", "venue_aztec_id": "{{ venue.param.aztecVenueId }}", "site_id": "{{ venue.param.siteId }}"}, "customer_ids": {"email_address": "{{ member.email }}", "trfft_loyalty_id": "{{ member.id }}"}, "timestamp": "{{ event.created_at | date('U') }}"}`
	v := loadVectors(t)["01-trifft-coupon-redeemed-pretty.json"]
	got, err := renderString(t, Options{Format: JSON}, src, v.Context)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"event_type": "trft_perk_redeemed", "properties": {"perk_id": "fa89ef32-1420-4fcd-b23a-e9478706dba9", "perk_name": "Welcome to Club Frog!", "venue_id": "5d2c9a7e-3b1f-4c8e-9a61-0c7f2e4b8d13", "venue_name": "Frog Riverside", "venue_aztec_id": "AZ-1042", "site_id": "17"}, "customer_ids": {"email_address": "ana@example.com", "trfft_loyalty_id": "bf428af0-bf06-4bc4-a91b-91b5bda6e211"}, "timestamp": "1747053296"}`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
