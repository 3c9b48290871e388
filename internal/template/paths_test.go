package template

import (
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestPaths(t *testing.T) {
	t.Parallel()
	src := "{% for item in transaction.items %}{{ item.sku }}{{ loop.index }}{{ item['unit price'] }}{% endfor %}\n" +
		"{% set p = member.param %}{{ p.first_name }}{{ member.param['birth-date']|date('U') }}\n" +
		"{% set total = 0 %}{{ total }}{{ coupon.tags[0] }}{{ venue.param[key] }}{% for k, v in venue.param %}{{ v }}{{ k }}{% endfor %}\n" +
		"{{ item }}{% if event.created_at is defined %}{{ (member.points + 1) ~ x.y.z }}{% endif %}"
	tpl, err := Compile(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []PathRef{
		{"transaction.items", 1, 16},
		{"transaction.items[].sku", 1, 39},
		{"transaction.items[]['unit price']", 1, 69},
		{"member.param", 2, 12},
		{"member.param.first_name", 2, 30},
		{"member.param['birth-date']", 2, 48},
		{"coupon.tags[0]", 3, 34},
		{"venue.param", 3, 54},
		{"key", 3, 66},
		{"venue.param", 3, 88},
		{"venue.param[]", 3, 105},
		{"item", 4, 4},
		{"event.created_at", 4, 17},
		{"member.points", 4, 51},
		{"x.y.z", 4, 72},
	}
	if got := tpl.Paths(); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)["02-trifft-member-verified-quoted.json"]
	sample := decodeVars(t, `{"member": {"id": "m1", "email": "a@b.c", "param": {"birth_date": "1990-04-15"}}}`)
	warnings, err := Check(v.Template, Options{Format: JSON}, sample)
	if err != nil {
		t.Fatal(err)
	}
	want := []Diagnostic{{1, 158, `"member.param.first_name" is not provided by this event type (not in its sample event); it renders empty`}}
	if !reflect.DeepEqual(warnings, want) {
		t.Errorf("got %v", warnings)
	}

	// Loops: a path inside a list is provided if some element has it.
	src := `{"items": [{% for i in transaction.items %}"{{ i.sku }}{{ i.colour }}"{% if not loop.last %},{% endif %}{% endfor %}]}`
	sample = decodeVars(t, `{"transaction": {"items": [{"sku": "A"}, {"sku": "B"}]}}`)
	warnings, err = Check(src, Options{Format: JSON}, sample)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || warnings[0].Message != `"transaction.items[].colour" is not provided by this event type (not in its sample event); it renders empty` || warnings[0].Column != 59 {
		t.Errorf("got %v", warnings)
	}

	// Malformed output with the sample is an error with a position.
	_, err = Check(`{"a": {{ x|raw }}}`, Options{Format: JSON}, map[string]any{"x": "oops"})
	if e := asError(t, err); e.Diagnostics[0].Line != 1 || e.Diagnostics[0].Column != 10 {
		t.Errorf("got %v", e)
	}
	// Compile errors come back as they are.
	_, err = Check(`{{ x|dat }}`, Options{}, nil)
	if e := asError(t, err); e.Error() != `line 1, column 6: unknown filter "dat" — did you mean "date"?` {
		t.Errorf("got %v", e)
	}
}

// TestConcurrentRender renders one template from many goroutines (run
// with -race in CI).
func TestConcurrentRender(t *testing.T) {
	t.Parallel()
	vectors := loadVectors(t)
	var wg sync.WaitGroup
	for _, v := range vectors {
		tpl, err := Compile(v.Template, Options{Format: Format(v.PayloadType)})
		if err != nil {
			t.Fatal(err)
		}
		want, err := tpl.Render(v.Context)
		if err != nil {
			t.Fatal(err)
		}
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					got, err := tpl.Render(v.Context)
					if err != nil || string(got) != string(want) {
						t.Errorf("%s: concurrent render differs: %v", v.Name, err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
}

// Names bound by the new tags, macros and arrows are not event paths.
func TestPathsOfTwigTags(t *testing.T) {
	src := "{% macro m(a) %}{{ a.x }}{% endmacro %}{% import _self as mac %}{% set blk %}{{ member.email }}{% endset %}{{ blk }}" +
		"{% with {'w': member.id} %}{{ w }}{{ member.tier }}{% endwith %}{{ items|map(i => i.sku)|join }}{{ mac.m(member) }}" +
		"{% apply upper %}{{ coupon.name }}{% endapply %}{{ max(member.points, 3) }}{{ \"#{venue.name}\" }}"
	tpl, err := Compile(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range tpl.Paths() {
		got = append(got, p.Path)
	}
	want := "member.email member.id member.tier items member coupon.name member.points venue.name"
	if strings.Join(got, " ") != want {
		t.Errorf("paths %q, want %q", strings.Join(got, " "), want)
	}
}
