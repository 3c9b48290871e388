package template

import "testing"

func BenchmarkCompile(b *testing.B) {
	v := loadVectors(b)["01-trifft-coupon-redeemed-pretty.json"]
	opts := Options{Format: JSON}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(v.Template, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderVector01(b *testing.B) {
	v := loadVectors(b)["01-trifft-coupon-redeemed-pretty.json"]
	tpl, err := Compile(v.Template, Options{Format: JSON})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(v.Context); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendRenderVector01 reuses one buffer across renders.
func BenchmarkAppendRenderVector01(b *testing.B) {
	v := loadVectors(b)["01-trifft-coupon-redeemed-pretty.json"]
	tpl, err := Compile(v.Template, Options{Format: JSON})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		out, err := tpl.AppendRender(buf[:0], v.Context)
		if err != nil {
			b.Fatal(err)
		}
		buf = out
	}
}

func BenchmarkRenderVector10Loop(b *testing.B) {
	v := loadVectors(b)["10-loop-and-filters.json"]
	tpl, err := Compile(v.Template, Options{Format: JSON})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(v.Context); err != nil {
			b.Fatal(err)
		}
	}
}
